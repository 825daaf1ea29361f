"""Values shown to people, in their language: Zendesk's ticket statuses, priorities and types as its own
agent UI names them (Japanese: 新規, オープン, 保留中, 待機中, 解決済み, 終了; 低, 普通, 高, 緊急; 問題,
インシデント, 質問, タスク). Jinja globals `ticket_status_labels` and `ticket_priority_labels`; the types
label the new-ticket form's choices (widget/record/ticket_form.py)."""
from flask_babel import lazy_gettext as _l

TICKET_STATUS_LABELS = {"new": _l("New"), "open": _l("Open"), "pending": _l("Pending"), "hold": _l("On-hold"),
                        "solved": _l("Solved"), "closed": _l("Closed")}
TICKET_PRIORITY_LABELS = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
TICKET_TYPE_LABELS = {"problem": _l("Problem"), "incident": _l("Incident"), "question": _l("Question"),
                      "task": _l("Task")}
