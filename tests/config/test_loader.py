"""Site files: every problem reported at its file:line:column, nothing half-loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from openbms.config import FALLBACK_DRIVERS, check_path, default_drivers, load_site, load_sites
from openbms.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "src" / "openbms" / "examples" / "office"

# One file with a problem of every kind. Line numbers matter: the test below names them.
BAD = textwrap.dedent("""\
    site:
      id: hq
      timezone: Europe/Londn
    drivers:
      bacnett: {}
    spaces:
      - id: floor-1
      - id: floor-1
    equipment:
      - id: ahu-1
        space: attic
        feeds: [vav-9]
        points:
          - name: sat
            unit: degrees
            binding: sim://ahu-1/sat
            poll: fast
          - name: sat
            unti: degC
          - name: mode
            kind: enum
          - name: fan
            binding: modbuss://x/y
            name: fan2
      - id: AHU 2
        type: boiler-ish
        points:
          - name: x
            binding: "nope"
    """)

EXPECTED = [
    (3, 13, "unknown time zone 'Europe/Londn': did you mean 'Europe/London'? (expected an IANA name "
            "such as 'Europe/London' or 'America/New_York')"),
    (5, 3, "unknown driver 'bacnett': did you mean 'bacnet'? (expected one of: bacnet, modbus, mqtt, "
           "rest, sim)"),
    (8, 9, "duplicate space id 'floor-1' (entry 2; entry 1 has it already): expected each space id once"),
    (11, 12, "unknown space 'attic' (expected one of the space ids: floor-1)"),
    (12, 13, "unknown equipment 'vav-9' (expected one of the equipment ids: ahu-1, AHU 2)"),
    (15, 15, "unknown unit 'degrees'"),
    (17, 15, "'poll' must be a number, not 'fast'"),
    (18, 15, "duplicate point name 'sat' in equipment 'ahu-1' (entry 2; entry 1 has it already): "
             "expected each point name once"),
    (19, 9, "unknown key 'unti': did you mean 'unit'? (expected one of: name, kind, unit, display_name, "
            "precision, description, tags, brick, states, writable, limits, relinquish_default, command, "
            "binding, poll, history)"),
    (20, 9, "an enum point needs 'states', the list of its state labels"),
    (23, 18, "unknown driver 'modbuss' in binding 'modbuss://x/y': did you mean 'modbus'? "
             "(expected one of: bacnet, modbus, mqtt, rest, sim)"),
    (24, 9, "duplicate key 'name' (first at line 22, column 9): expected each key once; YAML would "
            "silently keep only the last"),
    (25, 9, "'AHU 2' is not a valid id for 'id': expected lower-case letters, digits, '-', '_' and "
            "'.', starting with a letter or digit"),
    (26, 11, "'boiler-ish' is not allowed for 'type': did you mean 'boiler'? (expected 'ahu', 'vav', "),
    (29, 18, "binding 'nope' has no scheme: expected 'driver://device/path'"),
]


def write(folder: Path, text: str, name: str = "site.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def positions(issues) -> list[tuple[int, int]]:
    return [(i.line, i.column) for i in issues]


def test_every_problem_of_a_bad_file_is_reported_at_its_line_and_column(tmp_path):
    path = write(tmp_path, BAD)
    with pytest.raises(ConfigError) as info:
        load_site(path, FALLBACK_DRIVERS)
    issues = info.value.issues
    assert all(i.file == str(path) for i in issues)
    assert positions(issues) == [(line, col) for line, col, _ in EXPECTED]
    for issue, (_, _, message) in zip(issues, EXPECTED, strict=True):
        assert issue.message.startswith(message), (str(issue), message)
    assert str(issues[0]) == f"{path}:3:13: {EXPECTED[0][2]}"


def test_the_error_text_lists_every_issue_one_per_line(tmp_path):
    path = write(tmp_path, BAD)
    with pytest.raises(ConfigError) as info:
        load_site(path, FALLBACK_DRIVERS)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{len(EXPECTED)} problems:"
    assert lines[1:] == [str(i) for i in info.value.issues]


def test_an_unknown_unit_suggests_the_symbol_that_was_meant(tmp_path):
    path = write(tmp_path, "site: {id: hq}\nequipment:\n  - id: m\n    points:\n"
                           "      - {name: e, unit: kwh}\n")
    (issue,) = check_path(path)
    assert (issue.line, issue.column) == (5, 25)
    assert issue.message.startswith("unknown unit 'kwh': did you mean 'kWh'")


def test_a_yaml_syntax_error_points_at_the_problem(tmp_path):
    path = write(tmp_path, "site:\n  id: hq\n  name: [unclosed\nequipment: []\n")
    (issue,) = check_path(path)
    assert (issue.line, issue.column) == (4, 10)
    assert issue.message == ("YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow "
                             "sequence at line 3, column 9)")


def test_a_tab_in_the_indentation_is_a_syntax_error_at_the_tab(tmp_path):
    (issue,) = check_path(write(tmp_path, "site:\n\tid: hq\n"))
    assert (issue.line, issue.column) == (2, 1)
    assert issue.message.startswith("YAML syntax error: found character '\\t'")


def test_a_missing_required_key_points_at_the_mapping_that_lacks_it(tmp_path):
    path = write(tmp_path, "site:\n  name: No id\nequipment:\n  - type: ahu\n    name: AHU\n")
    issues = check_path(path)
    assert [(i.line, i.column, i.message) for i in issues] == [
        (2, 3, "missing required key 'id' in 'site'"),
        (4, 5, "missing required key 'id' in equipment entry 1"),
    ]


def test_a_file_without_a_site_says_the_key_is_missing(tmp_path):
    (issue,) = check_path(write(tmp_path, "# nothing but\nequipment: []\n"))
    assert (issue.line, issue.column, issue.message) == (2, 1, "missing required key 'site' in the top level")


def test_wrong_types_say_what_was_expected_and_what_was_given(tmp_path):
    path = write(tmp_path, textwrap.dedent("""\
        site: {id: hq, area_m2: -5, latitude: north}
        equipment:
          - id: a
            tags: ahu main
            points:
              - {name: p, writable: maybe, relinquish_default: [1, 2]}
              - just a name
              - {name: q, history: {deadband: -1}}
        """))
    assert [(i.line, i.column, i.message) for i in check_path(path)] == [
        (1, 25, "'area_m2' must be greater than 0, not -5"),
        (1, 39, "'latitude' must be a number, not 'north'"),
        (4, 11, "'tags' must be a list, not 'ahu main' (write a list as [a, b, c] or as one '- item' "
                "line each)"),
        (6, 29, "'writable' must be true or false, not 'maybe'"),
        (6, 56, "'relinquish_default' must be a number, true/false, or text, not a list"),
        (7, 9, "point entry 2 must be a mapping (key: value lines), not 'just a name'"),
        (8, 39, "'deadband' must be at least 0, not -1"),
    ]


def test_yaml_booleans_and_numbers_in_text_fields_get_a_quoting_hint(tmp_path):
    path = write(tmp_path, textwrap.dedent("""\
        site: {id: hq, name: 2024}
        equipment:
          - id: a
            points:
              - {name: m, kind: enum, states: [off, on]}
        """))
    messages = [i.message for i in check_path(path)]
    assert messages == [
        "'name' must be text, not 2024 (put it in quotes to make it text)",
        "entry 1 of 'states' must be text, not false (YAML reads a bare yes, no, on, off, true or false "
        "as a boolean: put it in quotes)",
        "entry 2 of 'states' must be text, not true (YAML reads a bare yes, no, on, off, true or false "
        "as a boolean: put it in quotes)",
    ]


def test_an_unknown_key_points_at_the_key_and_a_bad_value_at_the_value(tmp_path):
    path = write(tmp_path, "site:\n  id: hq\n  timezon: UTC\n  area_m2: big\n")
    issues = check_path(path)
    assert [(i.line, i.column) for i in issues] == [(3, 3), (4, 12)]
    assert issues[0].message.startswith("unknown key 'timezon': did you mean 'timezone'? (expected one "
                                        "of: id, name, timezone, area_m2, latitude, longitude)")


def test_a_duplicate_key_is_reported_even_where_the_schema_would_accept_either(tmp_path):
    (issue,) = check_path(write(tmp_path, "site:\n  id: hq\n  name: A\n  name: B\n"))
    assert (issue.line, issue.column) == (4, 3)
    assert issue.message.startswith("duplicate key 'name' (first at line 3, column 3)")


def test_a_merge_key_override_is_not_a_duplicate(tmp_path):
    path = write(tmp_path, textwrap.dedent("""\
        site: {id: hq}
        equipment:
          - id: a
            points:
              - &temp {name: t1, unit: degC, history: {deadband: 0.1}}
              - <<: *temp
                name: t2
        """))
    (cfg,) = load_sites(path, FALLBACK_DRIVERS)
    assert [(p.name, p.unit) for p in cfg.equipment[0].points] == [("t1", "degC"), ("t2", "degC")]


def test_an_alias_that_contains_itself_is_refused_without_looping(tmp_path):
    issues = check_path(write(tmp_path, "site: {id: hq}\nequipment: &e [*e]\n"))
    assert issues and issues[0].message.startswith("an alias refers to the node that contains it")


def test_a_key_is_kept_as_written_so_on_is_not_read_as_true(tmp_path):
    (issue,) = check_path(write(tmp_path, "site: {id: hq, on: 1}\n"))
    assert issue.message.startswith("unknown key 'on'")


def test_empty_and_non_mapping_files_say_what_a_site_file_holds(tmp_path):
    (empty,) = check_path(write(tmp_path, "# just a comment\n", "a.yaml"))
    assert (empty.line, empty.column) == (1, 1) and empty.message.startswith("the file is empty")
    (listing,) = check_path(write(tmp_path, "\n- site\n", "b.yaml"))
    assert (listing.line, listing.column) == (2, 1)
    assert listing.message.startswith("expected a mapping with the keys site, drivers, spaces")


def test_missing_and_non_utf8_files_are_an_issue_at_1_1(tmp_path):
    (missing,) = check_path(tmp_path / "nope.yaml")
    assert (missing.line, missing.column) == (1, 1) and missing.message.startswith("no such file")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("site: {id: hq, name: Caf\xe9}\n".encode("latin-1"))
    (issue,) = check_path(latin)
    assert (issue.file, issue.line, issue.column) == (str(latin), 1, 1)
    assert issue.message == ("not UTF-8 text: byte 0xe9 at line 1, column 25 (invalid continuation "
                             "byte); expected a YAML file saved as UTF-8")


def test_a_byte_order_mark_is_not_a_problem(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffsite: {id: hq}\n".encode())
    assert load_site(path).site.id == "hq"


def test_nothing_is_returned_when_anything_is_wrong(tmp_path):
    write(tmp_path, "site: {id: good}\n", "a.yaml")
    write(tmp_path, "site: {id: bad, timezone: Mars/Olympus}\n", "b.yaml")
    with pytest.raises(ConfigError) as info:
        load_sites(tmp_path)
    assert [Path(i.file).name for i in info.value.issues] == ["b.yaml"]


def test_a_folder_loads_every_site_file_in_name_order(tmp_path):
    write(tmp_path, "site: {id: plant}\n", "b.yml")
    write(tmp_path, "site: {id: hq}\n", "a.yaml")
    write(tmp_path, "not a site file\n", "notes.txt")
    write(tmp_path, "site: {id: hidden}\n", ".backup.yaml")
    assert [s.site.id for s in load_sites(tmp_path)] == ["hq", "plant"]


def test_the_same_site_id_in_two_files_is_reported_on_the_second(tmp_path):
    write(tmp_path, "site:\n  id: hq\n", "a.yaml")
    write(tmp_path, "# a copy\nsite:\n  id: hq\n  name: Copy\n", "b.yaml")
    with pytest.raises(ConfigError) as info:
        load_sites(tmp_path)
    (issue,) = info.value.issues
    assert (Path(issue.file).name, issue.line, issue.column) == ("b.yaml", 3, 7)
    assert issue.message == (f"site id 'hq' is already used by {tmp_path / 'a.yaml'}:2:7: expected each "
                             "site in one file, with its own id")


def test_problems_of_every_file_are_reported_together(tmp_path):
    write(tmp_path, "site: {id: hq, area_m2: x}\n", "a.yaml")
    write(tmp_path, "site: {id: hq}\nequipment: [{id: a, type: nope}]\n", "b.yaml")
    issues = check_path(tmp_path)
    assert [(Path(i.file).name, i.line, i.column) for i in issues] == [
        ("a.yaml", 1, 25), ("b.yaml", 1, 12), ("b.yaml", 2, 27)]
    assert "already used by" in issues[1].message


def test_a_folder_without_site_files_is_an_issue(tmp_path):
    (issue,) = check_path(tmp_path)
    assert issue.message.startswith("no site files here")


def test_drivers_default_to_the_registry_or_the_fallback_list():
    names = default_drivers()
    assert set(FALLBACK_DRIVERS) <= set(names)


def test_a_binding_may_use_only_the_drivers_given(tmp_path):
    path = write(tmp_path, "site: {id: hq}\nequipment: [{id: a, points: [{name: p, binding: 'knx://1/2'}]}]\n")
    assert load_site(path, drivers=("sim", "knx")).site.id == "hq"
    (issue,) = check_path(path, drivers=("sim",))
    assert issue.message.startswith("unknown driver 'knx' in binding")


def test_the_example_office_loads_with_the_documented_contents():
    (cfg,) = load_sites(EXAMPLE)
    assert (cfg.site.id, cfg.site.timezone, cfg.site.area_m2) == ("hq", "Europe/London", 2400)
    assert [s.id for s in cfg.spaces if s.kind == "zone"] == [
        "zone-north", "zone-south", "zone-east", "zone-west", "zone-core"]
    assert sorted(e.type for e in cfg.equipment) == [
        "ahu", "boiler", "boiler", "chiller", "chiller", "meter", "plant", "plant",
        "vav", "vav", "vav", "vav", "weather"]
    assert len(cfg.points()) == 46
    ids = {pid for pid, _, _ in cfg.points()}
    assert {"hq/ahu-1/sat", "hq/ahu-1/sat-sp", "hq/vav-north/zone-temp", "hq/meter-main/kwh"} <= ids
    assert all(p.binding and p.binding.startswith("sim://") for _, _, p in cfg.points())
    assert cfg.drivers["sim"].poll_interval == 5
    writable = {pid for pid, _, p in cfg.points() if p.writable}
    assert "hq/ahu-1/sat-sp" in writable and "hq/ahu-1/fan-cmd" in writable


def test_every_example_binding_is_one_the_sim_driver_can_serve():
    from openbms.drivers.sim.driver import SimDriver
    from openbms.model.binding import parse_binding

    sim = SimDriver()
    (cfg,) = load_sites(EXAMPLE)
    for _, _, point in cfg.points():
        assert point.binding is not None
        sim.value_at(parse_binding(point.binding), 0.0)  # raises PointError on a bad option


@pytest.mark.parametrize(
    "text, expected",
    [
        ("site: {id: hq, name: !foo bar}\n",
         "YAML error: could not determine a constructor for the tag '!foo'"),
        ("site: {id: hq, name: 2024-13-45}\n",
         "'2024-13-45' looks like a date but is not one (month must be in 1..12): put it in quotes if "
         "it is text"),
    ],
)
def test_a_value_yaml_cannot_build_is_reported_once(tmp_path, text, expected):
    (issue,) = check_path(write(tmp_path, text))
    assert (issue.line, issue.column, issue.message) == (1, 22, expected)


def test_a_second_yaml_document_in_a_file_is_refused(tmp_path):
    (issue,) = check_path(write(tmp_path, "site: {id: a}\n---\nsite: {id: b}\n"))
    assert (issue.line, issue.column) == (2, 1)
    assert issue.message.startswith("a site file holds one YAML document, but a second one starts here")


# ---------------------------------------------------------------- hostile files (issue 12, item 3)
# Each must end in a file:line:column (or file-level) problem, promptly and without a traceback.


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "site: {id: hq}\nlaughs:\n" + "".join(f"  {line}\n" for line in lines)


def test_a_billion_laughs_alias_bomb_is_refused_by_check_with_its_position(tmp_path):
    path = write(tmp_path, billion_laughs())
    # A child process with a timeout: before the fix this never ended, and a test must not hang CI.
    # Before the fix the bomb grew by 100 MB/s: a failing run must not take the machine with it.
    child = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
             "from openbms.cli.main import main; main()")
    proc = subprocess.run([sys.executable, "-c", child, "check", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"{path}:8:12: aliases (*name) repeat more than 100000 values" in proc.stdout


def test_a_billion_laughs_refusal_points_at_the_alias_that_goes_over(tmp_path):
    (issue,) = check_path(write(tmp_path, billion_laughs(levels=6)))
    # Levels 1-4 repeat 74 718 values, each alias of level 5 another 66 430: its first goes over.
    assert (issue.line, issue.column) == (8, 12)
    assert issue.message.startswith("aliases (*name) repeat more than 100000 values")


def test_aliases_used_a_reasonable_number_of_times_still_load(tmp_path):
    points = "".join(f"      - {{<<: *p, name: p{i}}}\n" for i in range(300))
    text = ("site: {id: hq}\nx-defaults: &p {unit: degC, binding: 'sim://a/b', kind: number}\n"
            "equipment:\n  - id: ahu-1\n    type: ahu\n    points:\n" + points)
    issues = check_path(write(tmp_path, text))
    assert [i.message for i in issues] == ["unknown key 'x-defaults' (expected one of: site, control, "
                                           "drivers, spaces, equipment, calendars, schedules, alarms, "
                                           "notifications, programs, mqtt, energy, tariffs)"]


@pytest.mark.parametrize("text, where", [
    ("site: " + "[" * 100_000 + "]" * 100_000 + "\n", (1, 106)),
    ("site: " + "{a: " * 3_000 + "1" + "}" * 3_000 + "\n", (1, 403)),
    ("site:\n" + "".join("  " * n + "- \n" for n in range(1, 120)), (101, 201)),
])
def test_a_document_nested_too_deeply_is_one_problem_at_the_level_that_goes_over(tmp_path, text, where):
    (issue,) = check_path(write(tmp_path, text))
    assert ((issue.line, issue.column), issue.message) == (
        where, "nested too deeply: at most 100 levels of mappings and lists inside one another")


def test_aliases_cannot_nest_a_document_deeper_than_the_limit(tmp_path):
    # Each anchor is 60 levels deep and holds the previous one: nesting grows with every alias.
    lines = ["site: {id: hq}"]
    for i in range(40):
        inner = f"*d{i - 1}" if i else "1"
        lines.append(f"d{i}: &d{i} " + "[" * 60 + inner + "]" * 60)
    issues = check_path(write(tmp_path, "\n".join(lines) + "\n"))
    deep = [i for i in issues if "nested too deeply" in i.message]
    assert len(deep) == 1, issues
    # d1's alias of d0, 60 lists inside 61 levels: the alias is where it goes over.
    assert (deep[0].line, deep[0].column) == (3, 69)


@pytest.mark.parametrize("char, name", [("\x00", "U+0000"), ("\x07", "U+0007"), ("\ufffe", "U+FFFE")])
def test_a_character_yaml_refuses_is_reported_at_its_line_and_column(tmp_path, char, name):
    (issue,) = check_path(write(tmp_path, f"site:\n  id: hq\n  name: Head{char}quarters\n"))
    assert (issue.line, issue.column) == (3, 13)
    assert issue.message == (f"character {name} is not allowed in a YAML file: expected printable text "
                             "(remove it, or write it as an escape such as \"\\x07\" inside double quotes)")


def test_a_file_larger_than_the_limit_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "site.yaml"
    with path.open("w", encoding="utf-8") as f:
        f.write("site: {id: hq}\n")
        line = "# " + "x" * 1021 + "\n"
        for _ in range(16 * 1024 + 1):
            f.write(line)
    (issue,) = check_path(path)
    assert (issue.line, issue.column) == (1, 1)
    assert issue.message == ("the file is larger than 16 MB, the limit for a site file: expected a "
                             "smaller file, or OPENBMS_MAX_SITE_FILE_MB set to allow a larger one")


def test_the_size_limit_is_set_by_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, "site: {id: hq}\n" + "# padding\n" * 30_000)  # 300 kB
    assert check_path(path) == []
    monkeypatch.setenv("OPENBMS_MAX_SITE_FILE_MB", "0.25")
    (issue,) = check_path(path)
    assert issue.message.startswith("the file is larger than 0.25 MB, the limit for a site file")
    monkeypatch.setenv("OPENBMS_MAX_SITE_FILE_MB", "lots")
    (issue,) = check_path(path)
    assert issue.message == ("OPENBMS_MAX_SITE_FILE_MB is 'lots': expected a positive number of "
                             "megabytes (the default is 16)")


def test_a_number_too_long_to_convert_is_reported_without_a_date_hint(tmp_path):
    (issue,) = check_path(write(tmp_path, "site: {id: hq, area_m2: " + "9" * 5000 + "}\n"))
    assert (issue.line, issue.column) == (1, 25)
    assert issue.message == ("'99999999999999999999999999999999…' (5000 characters) has too many digits "
                             "for a number (at most 4300): put it in quotes if it is text")


@pytest.mark.parametrize("value, kind", [
    # Found by fuzzing (tests/fuzz): PyYAML's constructors raised IndexError, KeyError or
    # AttributeError on an explicit tag over a scalar of another kind.
    ("!!int ''", "int"), ("!!float ''", "float"), ("!!bool ''", "bool"),
    ("!!bool maybe", "bool"), ("!!timestamp ''", "timestamp"), ("!!timestamp x", "timestamp"),
    ("!!int abc", "int"), ("!!float 1e", "float"),
])
def test_an_explicit_tag_on_a_scalar_of_another_kind_is_a_problem_at_the_value(tmp_path, value, kind):
    (issue,) = check_path(write(tmp_path, f"site: {{id: hq, area_m2: {value}}}\n"))
    assert (issue.line, issue.column) == (1, 25)
    assert issue.message.endswith(f"is not a valid {kind}: expected a {kind} after the tag !!{kind}, "
                                  "or no tag")


def test_a_schedule_timezone_that_is_not_text_is_a_problem_at_its_value(tmp_path):
    # Found by fuzzing: a schedule's `timezone: yes` reached zoneinfo as True, whose TypeError
    # escaped `openbms check` (then the loader's safety net answered for it).
    issues = check_path(write(tmp_path, "site: {id: hq, timezone: UTC}\nschedules:\n"
                                        "  - {id: s1, timezone: yes}\n"))
    assert [(i.line, i.column) for i in issues] == [(3, 24)], issues
    assert "expected an iana time zone name as text, not true" in issues[0].message.lower()


def test_a_binding_urllib_refuses_is_a_problem_at_the_binding(tmp_path):
    # Found by atheris: `sim://ahu-[/sat` made urllib raise ValueError("Invalid IPv6 URL") out of
    # parse_binding (model/binding.py), through every check.
    issues = check_path(write(tmp_path, "site: {id: hq}\nequipment:\n  - id: ahu-1\n    type: ahu\n"
                                        "    points:\n      - {name: sat, unit: degC, binding: "
                                        "'sim://ahu-[/sat'}\n"))
    assert len(issues) == 1 and issues[0].line == 6, issues
    assert "binding 'sim://ahu-[/sat' is not a valid URI" in issues[0].message
