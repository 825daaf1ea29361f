"""Search criteria (`(Field:operator:value)and(...)`, docs/outside-apis.md#crm-search-and-coql) and the COQL subset
(`SELECT … FROM … WHERE … ORDER BY … LIMIT …`, docs/outside-apis.md#crm-search-and-coql) of the CRM sandbox, evaluated
over record dicts.

Both compile to a predicate `record -> bool`. Errors raise `QueryError(code, details, message)`.
"""
import re
from datetime import datetime

CRITERIA_OPERATORS = {"equals", "not_equal", "starts_with", "in", "greater_than", "greater_equal",
                      "less_than", "less_equal", "between"}
MAX_CRITERIA = 10  # docs/outside-apis.md#crm-search-and-coql


class QueryError(Exception):
    def __init__(self, code, details, message):
        super().__init__(message)
        self.code, self.details, self.message = code, details, message


def _invalid_query(message, **details):
    return QueryError("INVALID_QUERY", details, message)


# ---- values --------------------------------------------------------------------------------------
def _timestamp(text):
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


def field_value(module, record, name):
    """A record's value in comparable form: lookups by id, datetimes as epoch seconds, text lowercased."""
    field = module.fields.get(name)
    value = record.get(name)
    if name == "id":
        return value
    if field is None or value is None:
        return None
    kind = field["data_type"]
    if kind in ("lookup", "ownerlookup"):
        return value.get("id")
    if kind == "datetime":
        return record["_created"] if name == "Created_Time" else record["_modified"] if name == "Modified_Time" \
            else _timestamp(value)
    if isinstance(value, str):
        return value.lower()
    return value


def literal(module, name, text):
    """A query literal converted to the field's comparable form."""
    field = module.fields.get(name)
    kind = field["data_type"] if field else "text"
    if text is None:
        return None
    if kind in ("integer", "bigint", "double", "currency"):
        try:
            return float(text)
        except (TypeError, ValueError):
            raise _invalid_query("invalid data type given for the field", api_name=name) from None
    if kind == "boolean":
        return str(text).lower() == "true"
    if kind == "datetime":
        ts = _timestamp(text)
        if ts is None:
            raise _invalid_query("invalid datetime value", api_name=name)
        return ts
    if kind in ("lookup", "ownerlookup"):
        return str(text)
    return str(text).lower()


def _compare(op, left, right):
    if left is None:
        return op in ("not_equal", "!=") and right is not None
    try:
        if op in ("greater_than", ">"):
            return left > right
        if op in ("greater_equal", ">="):
            return left >= right
        if op in ("less_than", "<"):
            return left < right
        if op in ("less_equal", "<="):
            return left <= right
    except TypeError:
        return False
    raise ValueError(op)


# ---- search criteria -----------------------------------------------------------------------------
def _split_unescaped(text, sep):
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_criteria(module, text):
    """Compile search `criteria` into a predicate (docs/outside-apis.md#crm-search-and-coql)."""
    position, count = 0, [0]

    def error():
        return _invalid_query("invalid query formed", reason="criteria", position=position)

    def group():
        nonlocal position
        if position >= len(text) or text[position] != "(":
            raise error()
        position += 1
        if position < len(text) and text[position] == "(":
            terms, joins = [group()], []
            while True:
                match = re.match(r"\s*(and|or)\s*", text[position:], re.IGNORECASE)
                if not match:
                    break
                joins.append(match.group(1).lower())
                position += match.end()
                terms.append(group())
            if position >= len(text) or text[position] != ")":
                raise error()
            position += 1
            return _join(terms, joins)
        start, escaped = position, False
        while position < len(text) and (escaped or text[position] != ")"):
            escaped = text[position] == "\\" and not escaped
            position += 1
        if position >= len(text):
            raise error()
        condition = text[start:position]
        position += 1
        count[0] += 1
        return _condition(module, condition)

    predicate = group()
    if position != len(text):
        raise error()
    if count[0] > MAX_CRITERIA:
        raise QueryError("LIMIT_EXCEEDED", {"limit": MAX_CRITERIA, "param_name": "criteria"}, "limit exceeded")
    return predicate


def _join(terms, joins):
    def predicate(record):
        result = terms[0](record)
        for join, term in zip(joins, terms[1:]):
            result = (result and term(record)) if join == "and" else (result or term(record))
        return result
    return predicate


def _condition(module, condition):
    parts = condition.split(":", 2)
    if len(parts) != 3:
        raise _invalid_query("invalid query formed", reason="criteria")
    name, op, raw = parts[0].strip(), parts[1].strip().lower(), parts[2]
    if name.endswith(".id"):
        name = name[:-3]
    if op not in CRITERIA_OPERATORS:
        raise _invalid_query("invalid operator found", operator=op)
    field = module.fields.get(name)
    if field is None and name != "id":
        raise _invalid_query("invalid field found", api_name=name)
    kind = field["data_type"] if field else "bigint"
    values = _split_unescaped(raw, ",") if op in ("in", "between") else ["".join(_split_unescaped(raw, "\x00"))]
    if op == "in" and len(values) > 100:
        raise QueryError("LIMIT_EXCEEDED", {"limit": 100, "operator": "in"}, "limit exceeded")
    if op == "between" and len(values) != 2:
        raise _invalid_query("invalid query formed", operator=op)
    targets = [literal(module, name, v) for v in values]

    def predicate(record):
        value = field_value(module, record, name)
        if op == "equals":
            if kind in ("text", "textarea") and isinstance(value, str):
                # NB: search's `equals` behaves like "contains" for text fields
                # (docs/outside-apis.md#crm-search-and-coql).
                return targets[0] in value
            return value == targets[0]
        if op == "not_equal":
            return value != targets[0]
        if op == "starts_with":
            return isinstance(value, str) and value.startswith(str(targets[0]))
        if op == "in":
            return value in targets
        if op == "between":
            return value is not None and _compare(">=", value, targets[0]) and _compare("<=", value, targets[1])
        return _compare(op, value, targets[0])
    return predicate


# ---- COQL ----------------------------------------------------------------------------------------
TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^'\\]|\\.|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>!=|<=|>=|=|<|>)"
                   r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_$][A-Za-z0-9_$.]*))")
KEYWORDS = {"select", "from", "where", "order", "by", "limit", "offset", "and", "or", "not", "like", "in", "is",
            "null", "between", "asc", "desc", "true", "false"}


def tokenize(text):
    tokens, position = [], 0
    text = text.rstrip().rstrip(";")
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            if text[position:].strip() == "":
                break
            raise QueryError("SYNTAX_ERROR", {"line": 1, "column": position + 1, "near": text[position:position + 10]},
                             "error occurred while parsing the query")
        kind = match.lastgroup
        value, column = match.group(kind), match.start(kind) + 1
        if kind == "word" and value.lower() in KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append((kind, value, column))
        position = match.end()
    return tokens


class CoqlQuery:
    """A parsed COQL SELECT: module name, columns, predicate, order, limit, offset."""

    def __init__(self, text, modules):
        self.tokens, self.index = tokenize(text), 0
        self.modules = modules
        self._parse()

    # token helpers
    def peek(self, offset=0):
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", None, 0)

    def take(self, kind=None, value=None):
        token = self.peek()
        if (kind and token[0] != kind) or (value and token[1] != value):
            column = token[2] or (self.tokens[-1][2] if self.tokens else 1)
            raise QueryError("SYNTAX_ERROR", {"line": 1, "column": column, "near": token[1] or ""},
                             "error occurred while parsing the query")
        self.index += 1
        return token

    def accept(self, kind, value=None):
        token = self.peek()
        if token[0] == kind and (value is None or token[1] == value):
            self.index += 1
            return token
        return None

    def _parse(self):
        self.take("keyword", "select")
        names = [self.take("word")[1]]
        while self.accept("punct", ","):
            names.append(self.take("word")[1])
        self.take("keyword", "from")
        module_name = self.take("word")[1]
        self.module = self.modules(module_name)
        if self.module is None:
            raise _invalid_query("invalid module given", module=module_name)
        if len(names) > 50:
            raise QueryError("LIMIT_EXCEEDED", {"limit": 50, "clause": "select"}, "limit exceeded")
        self.columns = [self._column(n) for n in names]
        self.predicate = (lambda record: True)
        if self.accept("keyword", "where"):
            self.predicate = self._or()
        self.order = []
        if self.accept("keyword", "order"):
            self.take("keyword", "by")
            while True:
                column = self._column(self.take("word")[1])
                direction = self.accept("keyword", "desc") or self.accept("keyword", "asc")
                self.order.append((column, (direction or ("", "asc"))[1] == "desc"))
                if not self.accept("punct", ","):
                    break
        self.limit, self.offset = 200, 0  # COQL defaults (docs/outside-apis.md#crm-search-and-coql)
        if self.accept("keyword", "limit"):
            first = int(self.take("number")[1])
            if self.accept("punct", ","):
                self.offset, self.limit = first, int(self.take("number")[1])
            else:
                self.limit = first
                if self.accept("keyword", "offset"):
                    self.offset = int(self.take("number")[1])
        self.take("end")

    def _column(self, name):
        base = name.split(".")[0]
        if base != "id" and base not in self.module.fields:
            raise _invalid_query("invalid column given", column_name=name)
        return name

    def _or(self):
        terms = [self._and()]
        while self.accept("keyword", "or"):
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else (lambda r: any(t(r) for t in terms))

    def _and(self):
        terms = [self._atom()]
        while self.accept("keyword", "and"):
            terms.append(self._atom())
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    def _value(self, column):
        kind, value, _ = self.take()
        if kind == "string":
            text = value[1:-1].replace("''", "'").replace("\\'", "'")
        elif kind == "number":
            text = value
        elif kind == "keyword" and value in ("true", "false", "null"):
            text = None if value == "null" else value
        else:
            raise QueryError("SYNTAX_ERROR", {"line": 1, "column": self.peek(-1)[2], "near": value},
                             "error occurred while parsing the query")
        return literal(self.module, column.split(".")[0], text)

    def _atom(self):
        if self.accept("punct", "("):
            inner = self._or()
            self.take("punct", ")")
            return inner
        column = self._column(self.take("word")[1])
        name = column.split(".")[0]
        negate = bool(self.accept("keyword", "not"))
        if self.accept("keyword", "is"):
            negate = bool(self.accept("keyword", "not"))
            self.take("keyword", "null")
            return lambda r: (field_value(self.module, r, name) is None) != negate
        if self.accept("keyword", "like"):
            pattern = self._value(column)
            regex = re.compile("^" + ".*".join(re.escape(p) for p in str(pattern).split("%")) + "$", re.DOTALL)
            return lambda r: bool(regex.match(str(field_value(self.module, r, name) or ""))) != negate
        if self.accept("keyword", "in"):
            self.take("punct", "(")
            values = [self._value(column)]
            while self.accept("punct", ","):
                values.append(self._value(column))
            self.take("punct", ")")
            return lambda r: (field_value(self.module, r, name) in values) != negate
        if self.accept("keyword", "between"):
            low = self._value(column)
            self.take("keyword", "and")
            high = self._value(column)
            return lambda r: (field_value(self.module, r, name) is not None
                              and _compare(">=", field_value(self.module, r, name), low)
                              and _compare("<=", field_value(self.module, r, name), high)) != negate
        op = self.take("op")[1]
        value = self._value(column)
        if op == "=":
            return lambda r: field_value(self.module, r, name) == value
        if op == "!=":
            return lambda r: field_value(self.module, r, name) != value
        return lambda r: _compare(op, field_value(self.module, r, name), value)
