"""Reading YAML with the line of every value (for errors that name the line) and writing it back."""

import math
from dataclasses import dataclass

import yaml

from jobs.spec import field_path
from jobs.spec.formats.base import MAX_NODES, MAX_TEXT_CHARS, SPEC_ORDER, FormatError


class _Map(dict):
    line = 0
    key_lines: dict


class _Seq(list):
    line = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    """Safe loading that keeps dates as text (JSON has no dates) and remembers where everything was."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rule) for tag, rule in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_map(loader, node):
    data = _Map()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:
        data.key_lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1


def _construct_seq(loader, node):
    data = _Seq()
    data.line, data.item_lines = node.start_mark.line + 1, [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


@dataclass
class Document:
    data: object
    lines: dict  # field path tuple -> line

    def line(self, *path) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, message: str, *path) -> FormatError:
        return FormatError(message, line=self.line(*path), field=field_path(path) or None)


def load_yaml(text) -> Document:
    if isinstance(text, bytes):
        text = decode_text(text)
    if not isinstance(text, str):
        raise FormatError("Give the document as text.")
    if len(text) > MAX_TEXT_CHARS:
        raise FormatError(f"The document is over {MAX_TEXT_CHARS // 1_000_000} MB.")
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(part for part in (error.context, error.problem) if part) or "not valid YAML"
        raise FormatError(f"Not valid YAML: {problem}.", line=mark.line + 1 if mark else None) from error
    except yaml.YAMLError as error:
        raise FormatError(f"Not valid YAML: {error}.") from error
    except RecursionError as error:
        raise FormatError("The document is nested too deeply.") from error
    lines: dict = {}
    try:
        data = _plain(raw, (), lines, set(), [0])
    except RecursionError as error:
        raise FormatError("The document is nested too deeply.") from error
    return Document(data, lines)


def _plain(value, path: tuple, lines: dict, parents: set, count: list):
    """Plain JSON values (dict, list, str, int, float, bool, None), recording each field's line."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise FormatError(f"The document has more than {MAX_NODES} values.")
    if isinstance(value, (_Map, _Seq)):
        if id(value) in parents:
            raise FormatError("The document refers to itself (a recursive alias).", line=value.line)
        lines.setdefault(path, value.line)
        parents = parents | {id(value)}
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            key_line = getattr(value, "key_lines", {}).get(key)
            if not isinstance(key, str):
                raise FormatError(f"Field names must be text, not {key!r}.", line=key_line)
            lines[(*path, key)] = key_line
            result[key] = _plain(item, (*path, key), lines, parents, count)
        return result
    if isinstance(value, list):
        item_lines = getattr(value, "item_lines", [])
        result_list = []
        for index, item in enumerate(value):
            if index < len(item_lines):
                lines[(*path, index)] = item_lines[index]
            result_list.append(_plain(item, (*path, index), lines, parents, count))
        return result_list
    if isinstance(value, float) and not math.isfinite(value):
        raise FormatError("Numbers must be finite.", line=_line(lines, path), field=field_path(path) or None)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise FormatError(
        f"Unsupported value of type {type(value).__name__}.",
        line=_line(lines, path),
        field=field_path(path) or None,
    )


def _line(lines: dict, path: tuple) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError("The document is not UTF-8 text.") from error


class _Dumper(yaml.SafeDumper):
    """Text with a character YAML folds or normalises (NEL, line/paragraph separators, CR) is written
    double-quoted, where those are escaped, so it reads back unchanged."""


def _represent_text(dumper, text: str):
    style = '"' if any(char in text for char in "\x85\u2028\u2029\r") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def dump_yaml(data: dict) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def in_spec_order(spec: dict) -> dict:
    first = {key: spec[key] for key in SPEC_ORDER if key in spec}
    return {**first, **{key: value for key, value in spec.items() if key not in first}}
