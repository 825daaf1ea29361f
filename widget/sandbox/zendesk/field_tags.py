"""Tags that follow custom ticket fields, as in Zendesk (docs/outside-apis-zendesk-audit.md, "Ticket fields").

Each option of a drop-down (`tagger`) or multi-select field has a tag (its `value`), and a checkbox
may have one (its `tag`): setting the field adds that tag to the ticket's tags, changing or clearing it
removes the old one. The other way round, removing a drop-down option's tag from the tags clears the
field, and adding one sets a field that has no value yet.
"""


def _option_tags(field):
    return {option["value"] for option in field.get("custom_field_options") or []}


def tags_of(field, value):
    """The tags a value of `field` puts on a ticket."""
    if field["type"] == "tagger":
        return {value} if value in _option_tags(field) else set()
    if field["type"] == "multiselect":
        values = value if isinstance(value, list) else []
        return set(values) & _option_tags(field)
    if field["type"] == "checkbox" and field.get("tag"):
        return {field["tag"]} if value is True or value == "true" else set()
    return set()


def follow_fields(ticket_fields, before, after, tags):
    """The ticket's tags once its custom field values go from `before` to `after` ({field id: value})."""
    tags = set(tags)
    for field in ticket_fields:
        old, new = before.get(field["id"]), after.get(field["id"])
        if old != new:
            tags = (tags - tags_of(field, old)) | tags_of(field, new)
    return tags


def follow_tags(ticket_fields, values, old_tags, new_tags):
    """{field id: value} of the drop-down fields the tags changed: a field whose option tag was removed is
    cleared; a field without a value takes the option whose tag was added."""
    changed = {}
    removed, added = set(old_tags) - set(new_tags), set(new_tags) - set(old_tags)
    for field in ticket_fields:
        if field["type"] != "tagger":
            continue
        value = values.get(field["id"])
        if value is not None and value in removed:
            changed[field["id"]] = None
        elif value is None:
            chosen = sorted(_option_tags(field) & added)
            if len(chosen) == 1:
                changed[field["id"]] = chosen[0]
    return changed
