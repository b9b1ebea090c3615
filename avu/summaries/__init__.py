"""Video summaries: key shots by kernel change points, importance from what the index holds, an
exact knapsack within a time budget, and the lines said in the chosen shots (`summarize`), rendered
as an mp4 or a contact sheet."""
from avu.summaries.render import contact_sheet, render_summary_video
from avu.summaries.summarize import BUDGET, MIN_SHOT, BudgetTooShort, Shot, Summary, smallest_budget, summarize

__all__ = ["BUDGET", "MIN_SHOT", "BudgetTooShort", "Shot", "Summary", "contact_sheet", "render_summary_video",
           "smallest_budget", "summarize"]
