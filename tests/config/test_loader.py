"""Site files: every problem reported at its file:line:column, nothing half-loaded."""

from __future__ import annotations

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
    (19, 9, "unknown key 'unti': did you mean 'unit'? (expected one of: name, kind, unit, description, "
            "tags, brick, states, writable, limits, relinquish_default, command, binding, poll, history)"),
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
