from dashboard.domain_page import render_domain_page

render_domain_page("translation")
