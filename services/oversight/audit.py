"""The operation log: who did what to whom, when (every field role's actions, every status
change, every export). Details never hold a full ID number or phone. A line about people (an
official's view, export or change of their data) names them in `subjects`, which the citizen's
access log reads (services/oversight/access_log.py)."""

from __future__ import annotations

import json

from models.fieldwork import OperationLog
from models.privacy import PersonAccess
from services.common.timefmt import local_iso


# Rows of one INSERT when an export's people are linked to its line (well under any server's
# packet and placeholder limits).
SUBJECT_CHUNK = 1000
# What each action is called on the pages (操作日志); an action not named here shows its code.
ACTION_LABELS = {
    "login": "登录", "login_failed": "登录失败", "logout": "退出登录", "change_password": "修改密码",
    "reset_password": "重置密码", "create_admin": "新建后台账号", "update_admin": "修改后台账号",
    "add_resident": "新建人员", "edit_resident": "编辑人员", "pending_isolation": "扫码后判定待确认隔离",
    "confirm_isolation": "确认隔离", "release_isolation": "解除隔离", "not_in_compound": "未在本小区",
    "add_entry": "补录出入记录", "delete_entry": "删除出入记录", "export": "导出",
    "appeal_submitted": "提交申诉", "appeal_accepted": "受理申诉并提交更正", "appeal_rejected": "驳回申诉",
    "appeal_escalated": "申诉逾期转区县处理", "approval_proposed": "提交审批", "approval_approved": "审批通过",
    "approval_rejected": "审批驳回", "colour_overridden": "人工调整健康码", "risk_entry_withdrawn": "撤回名单记录",
    "case_closed": "病例结案", "release_notice_revoked": "撤销解除医学观察告知书",
    "issue_release_notice": "开具解除医学观察告知书", "id_number_viewed": "查看完整证件号码",
    "person_colour_viewed": "查询个人健康码", "colour_rule_changed": "修改赋码规则",
    "colour_scheme_changed": "修改赋码颜色方案", "risk_area_listed": "登记风险地区", "risk_area_ended": "结束风险地区",
    "risk_record_add": "录入风险人员", "import_upload": "上传名单", "import_status": "名单导入状态",
    "import_errors_download": "下载导入错误报告", "import_medical_list": "导入医护人员名单",
    "partner_key_created": "创建合作方密钥", "partner_key_revoked": "吊销合作方密钥",
    "partner_batch_received": "收到合作方数据", "generate_code_batch": "生成场所码批次",
    "print_code_batch": "打印场所码批次", "update_place": "修改场所", "create_place": "新建场所",
    "bind_place": "绑定场所", "unbind_place": "解绑场所", "hand_over_place": "移交场所",
    "unbind_inspector": "解绑检查员", "temperature_check": "登记体温检测", "create_screen": "新建场所屏幕",
    "revoke_screen": "停用场所屏幕", "set_screen_only": "设置仅限屏幕码", "set_occupancy": "设置场所限流",
    "grant_medical": "授予医护人员身份", "revoke_medical": "撤销医护人员身份", "create_grid": "新建网格",
    "approve_grid": "审核网格", "bind_grid": "绑定网格", "unbind_grid": "解绑网格",
    "approve_grid_worker": "审核通过网格员", "revoke_grid_worker": "撤销网格员", "collect_info": "网格员采集信息",
    "read_declarations": "查看健康申报", "read_key_persons": "查看重点人员", "task_assign": "分派任务",
    "task_edit": "编辑任务", "task_status": "更新任务状态", "overseas_report": "上报境外人员",
    "enterprise_created": "创建企业", "enterprise_joined": "加入企业", "enterprise_member_removed": "移除企业员工",
    "staff_export_retried": "重发员工健康状况", "family_consent_code_sent": "发送家庭成员授权验证码",
    "family_consent_granted": "家庭成员同意授权", "family_consent_withdrawn": "家庭成员撤回授权",
}


def record(actor, role: str, action: str, target=None, *, admin_actor=None, subjects=None, **detail) -> OperationLog:
    """Write one log line; `actor` is a mini-program account, `admin_actor` a back-office one;
    `target` is a model instance (its table and id are kept); `subjects`: the blind indexes of the
    people the line is about, for their access log (written in bulk, each person once)."""
    row = OperationLog.create(
        actor=actor, admin_actor=admin_actor, role=role, action=action,
        target_type=target._meta.table_name if target is not None else None,
        target_id=target.get_id() if target is not None else None,
        detail=json.dumps(detail, ensure_ascii=False, default=str))
    if subjects:
        unique = sorted({s for s in subjects if s})
        for start in range(0, len(unique), SUBJECT_CHUNK):
            PersonAccess.insert_many([(row.id, s) for s in unique[start:start + SUBJECT_CHUNK]],
                                     fields=[PersonAccess.log, PersonAccess.subject]).execute()
    return row


def about(target, limit: int = 100) -> list[dict]:
    """The log lines about one object, newest first (what detail pages show)."""
    query = (OperationLog.select().where((OperationLog.target_type == target._meta.table_name)
                                         & (OperationLog.target_id == target.get_id()))
             .order_by(OperationLog.id.desc()).limit(limit))
    return [view(r) for r in query]


def view(row: OperationLog) -> dict:
    """A log line as pages show it."""
    who = row.admin_actor.name if row.admin_actor_id else (f"账号 {row.actor_id}" if row.actor_id else "系统")
    return {"who": who, "role": row.role, "action": row.action,
            "action_label": ACTION_LABELS.get(row.action, row.action), "target_type": row.target_type,
            "target_id": row.target_id, "detail": json.loads(row.detail), "at": local_iso(row.created_at)}
