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
home-title = 控制台
home-greeting = { $name }，您好。

## 问题页
problem-sign-in-title = 需要登录
problem-sign-in = 请先登录。
problem-forged-title = 请求被拒绝
problem-forged = 这个表单不是从本系统的页面提交的，或页面已过期。为保护数据，系统没有做任何更改。请返回页面刷新后重试。
problem-bad-form-title = 表单有误
problem-bad-form = 提交的内容无法识别，系统没有做任何更改。请返回页面重试。
problem-form-too-large = 提交的内容太长，系统没有做任何更改。
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
