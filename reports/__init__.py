"""Informational trend reports: a pure renderer from a data bundle to one self-contained HTML file.

`reports.model.ReportInput` is the bundle (built by `reports.data` from the warehouse),
`reports.render.render_report` turns it into HTML and `reports.render.write_report` writes it.
"""
