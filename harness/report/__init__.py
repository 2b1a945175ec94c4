"""Reports of a replay: the terminal summary (rich) and a self-contained HTML file."""

from harness.report.html import write_html
from harness.report.summary import print_summary

__all__ = ["print_summary", "write_html"]
