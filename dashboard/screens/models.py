"""Models: every checkpoint bundle with its metrics; compare two side by side."""


from dashboard.views.models import render

render()
