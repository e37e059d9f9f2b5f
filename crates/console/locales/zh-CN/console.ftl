# caseledger 控制台 — 简体中文（默认语言）。每个键在 en/console.ftl 中都有对应（有测试检查）。

## 通用
app-name = caseledger 维权案件台账
skip-to-content = 跳到正文
nav-label = 主菜单
nav-queue = 我的待办
footer = caseledger · 工会劳动法律监督维权案件台账 · 所有操作均记入不可篡改的事件日志
back-to-console = 返回控制台
sign-out = 退出登录
field-invalid = 请检查此项：

## 角色
role-admin = 管理员
role-supervisor = 主管
role-officer = 维权干部
role-partner = 协作部门
role-auditor = 审计员

## 登录
sign-in-title = 登录
field-login = 登录名
field-password = 密码
sign-in-button = 登录
sign-in-refused = 登录名或密码不正确。
sign-in-locked = 登录失败次数过多，该账号已暂时锁定，请 { $minutes } 分钟后再试。

## 设置密码
setup-title = 设置密码
setup-intro = { $name }（登录名 { $login }），请为您的账号设置密码。此链接只能使用一次。
field-new-password = 新密码
field-password-again = 再次输入新密码
password-rules = 至少 12 个字符；不能与登录名相同，也不能是常见密码。可以使用一句好记的话。
setup-button = 保存密码
setup-done = 密码已设置，请登录。
password-too-short = 密码至少需要 12 个字符。
password-too-long = 密码最多 256 个字符。
password-is-login = 密码不能与登录名相同。
password-too-common = 这个密码太常见或太容易猜到，请换一个。
password-mismatch = 两次输入的密码不一致。

## 首页
home-greeting = { $name }，您好。

## 问题页
problem-sign-in-title = 需要登录
problem-sign-in = 请先登录。
problem-forged-title = 请求被拒绝
problem-forged = 这个表单不是从本系统的页面提交的，或页面已过期。为保护数据，系统没有做任何更改。请返回页面刷新后重试。
problem-bad-form-title = 表单有误
problem-bad-form = 提交的内容无法识别，系统没有做任何更改。请返回页面重试。
problem-form-too-large = 提交的内容太长，系统没有做任何更改。
problem-file-too-large = 文件超过本系统允许的大小，未保存任何内容。
problem-file-type = 不接受此类型的文件（可上传 PDF、图片、Word、Excel、ODT 和纯文本），未保存任何内容。
problem-file-cut-short = 上传中断，未保存任何内容，请重试。
problem-file-erased = 该文件含个人信息，已随本案个人信息一并删除；其记录仍保留。
problem-not-found-title = 找不到
problem-not-found = 没有找到这项内容，或者您无权查看。
problem-page-not-found = 这个页面不存在。
problem-refused-title = 无法执行
problem-invalid = 有些内容需要修改。
problem-forbidden = 您的角色不能执行这项操作。
problem-rule = 案件当前的状态不允许这项操作。
problem-conflict = 与已有的记录冲突。
problem-resubmitted = 这个表单已经提交过，而内容不同。请刷新页面后重新填写。
problem-stale-title = 案件已被他人更新
problem-stale = 在您打开页面之后，其他人更新了这个案件。您的操作没有执行，以免覆盖他人的更改。请查看最新情况后再决定。
problem-unavailable-title = 暂时无法处理
problem-unavailable = 系统暂时无法处理这个请求，没有做任何更改。请稍后再试。
problem-internal-title = 出错了
problem-internal = 系统出现了意外错误，已记录下来。请稍后再试。

## 菜单
nav-cases = 案件
nav-new-case = 新建案件
nav-users = 账号
choose = 请选择
nobody = 未指派
overdue = 已逾期

## 我的待办
queue-title = 我的待办
queue-intro = 指派给您的未结案件共 { $count } 件，已逾期和三天内到期的函件排在最前。
queue-limited = 只显示最紧急的 { $limit } 件。
queue-empty = 目前没有指派给您的未结案件。
queue-all-cases = 查看全部案件
queue-shared-cases = 查看与您所在部门共享的案件

## 表格列
col-urgency = 紧急程度
col-title = 案件
col-status = 状态
col-category = 类别
col-employer = 用人单位
col-assignee = 承办人
col-deadline = 答复期限
col-opened = 立案日期

## 紧急程度
urgency-overdue = 已逾期
urgency-due_soon = 三天内到期
urgency-waiting = 等待答复
urgency-no_deadline = 无期限

## 状态
status-open = 已立案
status-investigating = 调查中
status-awaiting_reply = 等待答复
status-escalated = 已提请联动
status-closed = 已结案

## 类别
category-wage_arrears = 拖欠工资
category-occupational_disease = 职业病
category-safety_hazard = 安全隐患
category-ppe_shortfall = 劳动防护用品不足
category-labour_contract = 劳动合同
category-social_insurance = 社会保险
category-working_hours = 工作时间
category-collective_contract = 集体合同
category-other = 其他

## 来源
source-hotline = 热线
source-walk_in = 来访
source-inspection = 检查发现
source-referral = 转来
source-online = 网上
source-other = 其他

## 结案方式
outcome-rectified = 已整改
outcome-mediated = 调解解决
outcome-arbitration = 进入仲裁
outcome-litigation = 进入诉讼
outcome-referred = 移交其他部门
outcome-withdrawn = 撤回
outcome-unfounded = 反映不实

## 函件
kind-reminder = 提示函
kind-opinion = 劳动法律监督意见书
kind-recommendation = 劳动法律监督建议书

## 联动机制
tier-three_party = 三方驻会
tier-four_way = 四方协作
tier-five_way = 五方联动

## 部门
department-hrss = 人力资源和社会保障局
department-labour_inspection = 劳动保障监察
department-arbitration = 劳动人事争议仲裁院
department-justice = 司法局（法律援助与调解）
department-court = 人民法院
department-procuratorate = 人民检察院
department-public_security = 公安机关
department-emergency_management = 应急管理局
department-health = 卫生健康委员会

## 案件列表
cases-title = 案件
cases-filters = 筛选案件
filter-q = 搜索
filter-q-hint = 在标题和案情中查找；多个词用空格分开，须全部出现。
filter-any = 不限
filter-department = 共享部门
filter-overdue = 是否逾期
filter-yes = 是
filter-no = 否
field-region = 地区
filter-opened-from = 立案日期自
filter-opened-to = 立案日期至
filter-apply = 筛选
filter-clear = 清除条件
cases-results = 结果
filter-fix = 请修改上面标出的筛选条件。
pager-label = 翻页
pager-first = 第一页
pager-next = 下一页
cases-none = 没有符合条件的案件。

## 新建案件
open-title = 新建案件
form-has-errors = 有 { $count } 处需要修改，已在对应的栏目旁标出。
open-the-matter = 案件情况
field-title = 标题
field-source = 来源
field-description = 案情
field-industry = 行业
field-workers-affected = 涉及职工人数
open-employer = 用人单位
field-employer-name = 单位名称
field-credit-code = 统一社会信用代码
field-credit-code-hint = 18 位，系统会核对校验位。
field-credit-code-unverified = 代码未通过校验，仍按原样记录（仅主管）
open-complainant = 投诉人
open-complainant-hint = 可不填。个人信息加密保存，协作部门和审计员看不到。
field-complainant-name = 姓名
field-complainant-phone = 电话
field-complainant-id = 居民身份证号码
open-button = 立案

## 案件页
case-version = 第 { $version } 版
done-opened = 案件已立案。
done-assign = 已指派承办人。
done-findings = 调查结果已记录。
done-letters = 函件已发出。
done-answer = 答复已记录。
done-service = 送达已记录，答复期限从送达之日起计算。
done-follow_up = 回访已记录。
done-drafted = 函件已提交审批，主管签发后编号并生成文书。
done-approve = 函件已签发。
done-return = 函件已退回。
done-escalate = 已提请联动机制。
done-refer = 已移交部门。
done-feedback = 反馈已记录。
done-notes = 备注已添加。
done-close = 案件已结案。
done-reopen = 案件已重新打开。
stale-to-form = 查看您填写的内容
form-open = 打开“{ $title }”表单
case-facts = 案件情况
case-updated = 最后更新
case-closed-at = 结案时间
field-outcome = 结案方式
field-closing-summary = 结案说明
credit-code-unverified = 未通过校验
complainant-none = 未登记投诉人。
complainant-withheld = 投诉人信息不向您的角色显示。
complainant-erased = 投诉人个人信息已按要求删除。
case-letters = 函件
letter-state-no_answer_needed = 无需答复
letter-state-awaiting = 等待答复
letter-state-awaiting_service = 待送达
letter-state-overdue = 已逾期未答复
letter-state-rectified = 已答复：已整改
letter-state-not_rectified = 已答复：未整改
field-recipient = 收件单位
field-department = 部门
letter-issued = 发出时间
letter-answered = 答复时间
rectified-yes = 已整改
rectified-no = 未整改
field-answer = 答复内容
letter-content = 函件内容
command-answer = 记录答复
field-rectified = 是否整改
case-no-letters = 尚未发出函件。
letter-served = 送达时间
method-in_person = 直接送达
method-post = 邮寄送达
method-left_at_premises = 留置送达
method-electronic = 电子送达
letter-received-by = 签收人 { $name }
letter-tracking = 邮件号 { $number }
letter-refused = 拒收
deadline-end-of-day = { $day } 当日结束前
letter-provisional = 暂定
letter-provisional-hint = 该年度的放假安排尚未公布，期限按暂定日历计算，公布后可能变动。
letter-deadline-rule-served-working_days = 送达后 { $amount } 个工作日内答复
letter-deadline-rule-served-calendar_days = 送达后 { $amount } 日内答复
letter-deadline-rule-issued-working_days = 发出后 { $amount } 个工作日内答复
letter-deadline-rule-issued-calendar_days = 发出后 { $amount } 日内答复
letter-document = 下载 { $number } 的 PDF
letter-follow-ups = 回访记录
case-drafts = 待签发的函件
draft-state-awaiting = 待主管审批
draft-state-returned = 已退回
draft-drafted = 起草时间
draft-returned = 退回时间
command-approve = 审批签发
command-return = 退回修改
field-return-reason = 退回理由
command-service = 记录送达
field-service-method = 送达方式
field-served-at = 送达时间
field-served-at-hint = 答复期限从送达次日起按工作日计算。
field-received-by = 签收人
field-tracking-number = 邮件号
field-refused = 收件单位拒收
command-follow-up = 记录回访
field-visited-at = 回访时间
field-follow-up-rectified = 回访时是否已整改
field-follow-up-findings = 回访情况
case-work = 办理情况
case-findings = 调查结果
field-hazard = 危害因素
case-escalation = 联动机制
case-departments = 参与部门
case-not-escalated = 尚未提请联动。
case-shared-with = 共享部门
case-not-shared = 未与任何部门共享。
case-referrals = 移交
case-feedback = 部门反馈
case-notes = 备注
case-actions = 办理
command-assign = 指派承办人
field-officer = 承办人
field-officer-hint = 填写承办人的登录名，这样案件会出现在他的待办中。
command-assign-me = 由我承办
command-findings = 记录调查结果
field-finding = 调查结果
command-letters = 发函
field-kind = 函件种类
field-deadline-hint = 留空则按该类函件的默认期限。
field-department-none = 无（建议书必须选择）
command-escalate = 提请联动机制
field-tier = 层级
field-departments-hint = 不勾选则按该层级的默认成员。
field-reason = 理由
command-refer = 移交部门
command-close = 结案
command-reopen = 重新打开（主管）
command-feedback = 记录部门反馈
field-feedback = 反馈内容
field-feedback-outcome = 部门处理结果
command-notes = 添加备注
field-note = 备注
case-closed-no-work = 案件已结案。需要继续办理时，请主管重新打开。
case-timeline = 时间线
timeline-limited = 只显示最近的 { $shown } 条（共 { $total } 条）。完整记录请在审计页面查看。
case-chain = 哈希链位置 { $position }
role-system = 系统

## 事件
event-CaseOpened = 立案
event-OfficerAssigned = 指派承办人
event-FindingRecorded = 记录调查结果
event-SupervisionLetterIssued = 发出函件
event-LetterAnswered = 记录答复
event-LetterServed = 函件已送达
event-FollowUpRecorded = 记录回访
event-LetterDrafted = 起草函件
event-LetterApproved = 签发函件
event-LetterReturned = 退回函件
event-AttachmentAdded = 上传附件
event-AttachmentWithdrawn = 撤回附件
event-LetterDeadlineMissed = 答复期限已过
event-EscalatedToJointMechanism = 提请联动机制
event-ReferredToDepartment = 移交部门
event-DepartmentFeedbackRecorded = 部门反馈
event-NoteAdded = 备注
event-CaseClosed = 结案
event-CaseReopened = 重新打开
event-PersonalDataErased = 删除个人信息

## 账号
users-title = 账号
users-link-title = { $login } 的设置链接
users-link-intro = 请把这个链接交给 { $name } 本人，用于设置密码。链接 72 小时内有效，只能使用一次，此后不会再显示。
users-link-label = 设置链接
users-new = 新建账号
field-login-hint = 2–64 个小写字母、数字、点、下划线或连字符。
field-person-name = 姓名
field-role = 角色
field-department-partner-only = 无（仅协作部门需要）
users-create = 创建账号
users-list = 全部账号
users-status = 状态
users-actions = 操作
user-status-pending_setup = 等待设置密码
user-status-active = 正常
user-status-disabled = 已停用
users-reset = 重新发送设置链接
users-reset-for = 为 { $login } 重新生成设置链接
users-disable = 停用
users-disable-for = 停用 { $login }
users-disabled = 账号已停用，其登录会话已全部结束。

## 栏目错误
error-empty = 此项不能为空。
error-future = 期限必须晚于现在。
error-not-future = 时间不能晚于现在。
error-before-letter = 时间不能早于函件发出的时间。
error-too-long = 内容太长。
error-single-line = 只能填一行，不能含控制字符。
error-control-characters = 不能含控制字符。
error-check-character = 校验位不对，请核对号码。
error-length-18 = 必须是 18 位。
error-unknown-department = 不是已配置的部门。
error-recommendation-department = 建议书必须选择接收的政府部门。
error-choose = 请从列表中选择。
error-number = 请填写整数。
error-date-time = 请填写有效的日期和时间。
error-date = 请填写有效的日期。
error-search = 搜索词太多或太长（最多 16 个词，每个不超过 64 个字）。
error-login-taken = 这个登录名已被使用。

## 规则
rule-case_already_opened = 这个案件已经立案。
rule-case_closed = 案件已结案，不能再办理；需要时请主管重新打开。
rule-case_not_closed = 只有已结案的案件才能重新打开。
rule-letter_not_open = 这封函件无需答复或已经答复。
rule-deadline_not_passed = 这封函件的期限还没到。
rule-deadline_already_missed = 已记录过这封函件逾期。
rule-tier_not_higher = 联动只能提升到更高的层级。
rule-not_shared_with_department = 这个案件没有与您的部门共享。
rule-opinion_letter_awaiting_answer = 意见书还在等待用人单位答复，此时只能以“移交其他部门”或“撤回”结案。
rule-recommendation_needs_unheeded_opinion = 只有在意见书被拒绝整改或逾期未答复后，才能发建议书。
rule-personal_data_already_erased = 个人信息已经删除。
rule-no_personal_data = 这个案件没有投诉人个人信息。
rule-already_assigned = 案件已经指派给这位承办人。
rule-letter_already_issued = 这封函件已经发出。
rule-letter_already_served = 这封函件已经送达。
rule-letter_draft_returned = 这份草稿已被退回，不能再签发；请重新起草。
rule-attachment_already_added = 该文件已作为附件上传过。
rule-attachment_already_withdrawn = 该附件已撤回。
rule-personal_data_erased = 本案的个人信息已删除，不能再上传含个人信息的文件。
rule-case_event_limit_reached = 这个案件的记录已达上限，不能再添加。

# Files attached to a case (contract §10).
case-attachments = 附件
attachments-none = 尚无附件。
attachment-file = 文件
attachment-size = 大小
attachment-added = 上传时间
attachment-state = 标记
attachment-name-withheld = （含个人信息，名称不显示）
attachment-personal = 含个人信息
attachment-shared = 已向部门共享
attachment-erased = 已删除
attachment-withdrawn = 已撤回
command-attach = 上传附件
command-withdraw = 撤回
command-withdraw-attachment = 撤回 { $name }
field-withdraw-reason = 撤回原因
field-attachment-file = 文件
field-attachment-file-hint = 可上传 PDF、照片（JPEG、PNG、WebP、HEIC）、Word、Excel、ODT 或纯文本，最大 25 MB；文件类型按文件内容识别。
field-attachment-personal = 含个人信息（与投诉人信息一同加密，随之删除，不向合作部门和审计人员显示）
field-attachment-shared = 允许已共享本案的合作部门查看（仅限不含个人信息的文件）
done-attached = 附件已上传，其 SHA-256 已记入日志。
done-withdrawn = 附件已撤回，仍保留在列表中。
field-receipt = 送达回证（附件）
field-receipt-none = 未上传
letter-receipt = 送达回证

# ── Auditor workbench (issue #14, item 3): the global log, a case's history and versions,
#    verifying the chain, the signed checkpoints, the export. ──
nav-audit = 审计
audit-nav-label = 审计工作台
audit-log-title = 全局日志
audit-log-intro = 日志中的每个事件按位置排列，共 { $head } 个；每个事件的哈希都链接到前一个事件。
audit-log-filters = 筛选日志
audit-col-type = 事件类型
audit-filter-case = 案件编号
audit-filter-case-hint = 填写案件编号（UUID），只看这个案件的事件。
audit-page-size = 每页条数
audit-filter-after = 从此位置之后开始
audit-log-range = 位置 { $from } 至 { $to }：{ $count } 个事件
audit-log-empty = 这里没有符合条件的事件。
audit-log-budget = 本页查看了位置 { $from } 至 { $to } 后暂停；请翻页继续查找。
audit-col-position = 位置
audit-col-time = 时间
audit-col-case = 案件
audit-col-actor = 操作人
audit-col-hash = 哈希
audit-col-version = 版本
audit-pager = 翻页
audit-oldest = 最早
audit-earlier = 较早
audit-later = 较新
audit-newest = 最新
audit-first-page = 第一页
audit-last-page = 最后一页
audit-history-title = 案件历史
audit-log-of-case = 本案在全局日志中的事件
audit-versions-title = 案件各版本
audit-history-range = 第 { $first } 至 { $last } 版（共 { $total } 版）
audit-history-hint = 每个事件的 prev_hash 是前一个事件的哈希；点开可查看完整哈希和事件数据。投诉人个人信息在日志中只以加密形式保存。
audit-data = 数据
audit-see-version = 查看本案在此版本时的状态
audit-verify-title = 校验哈希链
audit-verify-intro = 从位置 1 到最新位置（目前为 { $head }）逐一重新计算每个事件的哈希，核对整条链是否完整。
audit-verify-run = 校验
audit-verify-none = 本服务实例尚未进行过校验。
audit-verify-started = 由 { $name } 于 { $at } 开始。
audit-verify-progress = 已校验 { $checked } / { $total } 个事件
audit-verify-reload = 刷新进度
audit-verify-intact = 哈希链完整
audit-verify-events = 已校验事件数
audit-verify-head-position = 最新位置
audit-verify-head-hash = 最新哈希
audit-verify-finished = 完成时间
audit-verify-broken = 哈希链在位置 { $position } 处断开
audit-verify-first-bad = 第一个出错的位置
audit-verify-reason = 原因
audit-verify-failed = 校验未能完成（存储出错）；请稍后重试，详情见服务日志。
audit-verify-start = 校验整条哈希链
audit-export = 导出日志
audit-export-intro = 下载整个日志（NDJSON，每行一个事件，与 GET /v1/audit/export 相同），可离线校验。
audit-export-download = 下载导出文件
audit-export-hint = 离线校验：caseledger audit verify 文件名
audit-checkpoints-title = 签名检查点
audit-checkpoints-intro = 服务定期用自己的 Ed25519 密钥签署日志的状态（位置、Merkle 树的大小和根哈希）。每个签名都在打开本页时用服务的公钥重新核验。
audit-public-key = 服务公钥：
audit-no-public-key = 本服务没有签名密钥，无法核验检查点。
audit-checkpoints-summary = 本页签名有效 { $valid } 个，无效 { $invalid } 个。
audit-col-tree-size = 树大小
audit-col-root-hash = 根哈希
audit-col-signature = 签名
audit-signature-valid = 有效
audit-signature-invalid = 无效
audit-checkpoints-none = 尚无签名检查点。
audit-travel = 查看某一版本或某一时间的状态
audit-stepper = 版本
audit-version-first = 第一版
audit-version-previous = 上一版
audit-version-next = 下一版
audit-version-last = 最新版
audit-version-number = 版本号（1–{ $total }）
audit-version-go = 查看
audit-version-at = 时间
audit-version-at-hint = 按本办公室所在时区填写。
audit-stood-at-version = 第 { $version } 版时的案件（共 { $total } 版）
audit-stood-at-time = { $at } 时的案件：第 { $version } 版（共 { $total } 版）
audit-chain-point = 此版本最后一个事件：位置 { $position }，哈希
audit-complainant-present = 有投诉人（个人信息不向审计人员显示）
audit-escalation = 联动机制
audit-shared-with = 已共享给
audit-counts = 记录
audit-counts-value = 调查结果 { $findings } 条，备注 { $notes } 条，附件 { $files } 个
error-audit-case-id = 请填写完整的案件编号（UUID）。
error-audit-after-and-before = 只能指定一个起点：之后或之前。
error-audit-version-or-time = 请只填写版本号或时间中的一项。
error-audit-before-opening = 那时本案尚未立案。
