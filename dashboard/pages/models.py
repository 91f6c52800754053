"""Models: every checkpoint bundle with its metrics; compare two side by side."""

import streamlit as st

from dashboard.views.models import render

render()
