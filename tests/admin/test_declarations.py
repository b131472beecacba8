"""Resource declarations: each short enough to read at a glance, and every problem of a broken one
reported at once with its stable id (admin/checks.py)."""

import importlib
import pathlib
import re

import pytest

import admin.resources  # noqa: F401  (registers every resource)
from admin.site import Action, Column, Filter, ImproperlyDeclared, Resource, Search, Site, site
from models.people import Person
from services.common.forms import FormField

RESOURCES = pathlib.Path(admin.resources.__file__).parent
MAX_LINES = 25
CLASS_RE = re.compile(r"^class (\w+)\b")


def class_lengths(path: pathlib.Path) -> dict[str, int]:
    """Each top-level class of a module and its length in lines, from its `class` line to its last
    line of code. Read as text, not with ast.parse: CPython 3.11's parser trips over other threads'
    parses (python/cpython#106905), and a top-level statement starts at column 0 here."""
    lines = path.read_text(encoding="utf-8").splitlines()
    lengths, start, last = {}, None, None
    for number, line in enumerate(lines + ["end"], 1):
        top_level = line and not line[0].isspace() and not line.startswith((")", "]", "}", "#"))
        if top_level and start is not None:
            lengths[start[0]] = last - start[1] + 1
            start = None
        if CLASS_RE.match(line):
            start = (CLASS_RE.match(line).group(1), number)
        if line.strip() and not line.lstrip().startswith("#"):
            last = number
    return lengths


def test_every_resource_declaration_is_at_most_25_lines():
    measured, too_long = 0, []
    for path in sorted(RESOURCES.glob("*.py")):
        module = importlib.import_module(f"admin.resources.{path.stem}")
        for name, length in class_lengths(path).items():
            cls = getattr(module, name, None)
            if isinstance(cls, type) and issubclass(cls, Resource):
                measured += 1
                if length > MAX_LINES:
                    too_long.append(f"{path.name}: {name} ({length} 行)")
    assert measured >= 18
    assert too_long == []


def test_the_measure_counts_a_class_to_its_last_line():
    assert class_lengths(RESOURCES / "sms_outbox.py") == {"SmsOutboxAdmin": 14}


def test_the_registered_resources_have_no_problem():
    assert site.problems() == []


def test_every_problem_is_reported_at_once_with_its_id():
    noop = lambda q, v: q  # noqa: E731

    class Broken(Resource):
        name, label, model = "broken", "坏的", Person
        menu_group = "风险"
        columns = (Column("name", "姓名"), Column("name", "又一个姓名"), "phone")
        list_display = ("name", "nmae")
        export_fields = ("phnoe",)
        readonly_fields = ("gender",)
        searches = (Search("q", "关键字", noop), Search("q", "又一个关键字", noop), "area")
        filters = (Filter("status", "状态", {}, noop), Filter("status", "状态", {"1": "是"}, noop), "kind")
        actions = (Action("go", "执行", noop), Action("go", "再执行", noop), "stop")
        create_form = (FormField("name", "姓名"), FormField("name", "姓名"), "phone")
        edit_form = (FormField("name", "姓名"), "phone")

    class Unnamed(Resource):
        menu_group = "账号与系统"

    class SameName(Resource):
        name, label, model = "broken", "又一个坏的", Person
        menu_group = "账号与系统"

    broken = Site()
    for cls in (Broken, Unnamed, SameName):
        broken.register(cls)
    found = broken.problems()
    assert sorted({p.id for p in found}) == [
        "admin.E001", "admin.E002", "admin.E003", "admin.E101", "admin.E102", "admin.E103", "admin.E104",
        "admin.E105", "admin.E111", "admin.E112", "admin.E121", "admin.E122", "admin.E123", "admin.E201",
        "admin.E202", "admin.E203", "admin.E204"]
    assert "admin.E103 Broken.list_display: 'nmae' 未声明（可用：name）" in [str(p) for p in found]
    assert "admin.E002 SameName: 资源名重复（已有同名资源）" in [str(p) for p in found]
    assert [p.where for p in found if p.id == "admin.E203"] == ["Broken.create_form", "Broken.edit_form"]
    with pytest.raises(ImproperlyDeclared) as raised:
        broken.check()
    message = str(raised.value)
    assert message.startswith(f"后台声明有 {len(found)} 处错误：")
    assert all(str(problem) in message for problem in found)


def test_a_model_field_is_a_plain_column_and_a_model_form_keeps_the_fields_limits():
    from admin.site import model_form
    from models.medical_staff import MedicalStaff

    class Staff(Resource):
        name, label, model = "staff", "医护", MedicalStaff
        menu_group = "账号与系统"
        columns = (MedicalStaff.institution, Column("position", "职位"))

    resource = Staff()
    assert resource.detail_fields == ("institution", "position")
    assert resource.display(("institution",), MedicalStaff(institution="市一院")) == ["市一院"]
    form = model_form(MedicalStaff, phone="联系电话", institution="单位名称")
    assert [(f.name, f.label, f.kind, f.required, f.max_len) for f in form] == [
        ("phone", "联系电话", "phone", True, 64), ("institution", "单位名称", "text", True, 128)]
    with pytest.raises(KeyError):
        model_form(MedicalStaff, instituion="单位名称")
