"""Moments shown in the CRM user's own time zone and locale, formatted on the server.

The widget context's user claim carries the CRM user's `time_zone` (e.g. "Asia/Tokyo") and `locale`
(e.g. "ja_JP"). A context without a usable zone shows UTC, and says so beside each moment.
"""
from dataclasses import dataclass
from datetime import timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time

from ..models import as_utc

LANGUAGES = ("en", "ja")  # the languages our pages speak; dates follow the same one


@dataclass(frozen=True)
class UserClock:
    zone: object  # a tzinfo
    zone_name: str
    locale: Locale
    zone_known: bool  # False: the context named no usable zone, UTC is shown and said

    def show(self, moment):
        """`moment` (UTC, naive or aware) as the user reads it, e.g. "2026年11月1日 9:05" or "Nov 1, 2026 9:05 AM"."""
        if moment is None:
            return ""
        local = as_utc(moment).astimezone(self.zone)
        day, time = format_skeleton("yMMMd", local, locale=self.locale), format_time(local, "short", locale=self.locale)
        text = f"{day} {time}"
        return text if self.zone_known else f"{text} UTC"

    @staticmethod
    def iso(moment):
        """`moment` for a <time datetime=...> attribute."""
        return as_utc(moment).isoformat() if moment else ""


def user_clock(user, language):
    """The clock of a widget context's `user` claim; `language` ("en"/"ja") is the page's."""
    zone, name, known = timezone.utc, "UTC", False
    try:
        if user.get("time_zone"):
            zone, name, known = ZoneInfo(str(user["time_zone"])), str(user["time_zone"]), True
    except (ZoneInfoNotFoundError, ValueError):
        pass
    try:
        locale = Locale.parse(str(user.get("locale") or language).replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse(language)
    if locale.language != language:  # dates in the page's language, never a third one
        locale = Locale.parse(language)
    return UserClock(zone, name, locale, known)
