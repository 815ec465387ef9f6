// Chinese (simplified) by default, English on request; the choice is kept in localStorage.
const zh = {
  'app.title': '并联审批控制台', 'skip': '跳到正文', 'lang.switch': 'English', 'logout': '退出', 'loading': '加载中…',
  'live.on': '● 实时更新', 'live.off': '○ 连接中断，正在重连…', 'live.connecting': '○ 正在连接…',
  'nav.new': '录入申请', 'nav.cases': '申请列表', 'nav.queue': '待审队列', 'nav.licence': '待发照', 'nav.permits': '许可证待办',
  'nav.supervision': '效能监察', 'nav.admin': '系统管理', 'nav.all': '全部案件',
  'role.secretary': '窗口受理', 'role.registrar': '登记机关', 'role.reviewer': '审批部门', 'role.supervisor': '监察', 'role.admin': '管理员',
  'login.title': '登录', 'login.username': '用户名', 'login.password': '密码', 'login.otp': '动态口令（6 位）', 'login.submit': '登录',
  'login.expired': '登录已过期，请重新登录；您填写的内容已保留。', 'login.otpHint': '身份验证器中显示的 6 位数字',
  'stepup.title': '请再次确认身份', 'stepup.why': '此操作需要新的动态口令：请输入身份验证器当前显示的 6 位数字。', 'stepup.confirm': '确认', 'stepup.cancel': '取消',
  'stepup.failed': '动态口令不正确，请输入新的口令。', 'code.STEP_UP_REQUIRED': '此操作需要新的动态口令。', 'code.STEP_UP_FAILED': '动态口令不正确。',
  'f.enterpriseName': '企业名称', 'f.legalForm': '组织形式', 'f.registeredCapital': '注册资本（元）', 'f.industry': '行业',
  'f.businessScope': '经营范围', 'f.address': '住所', 'f.divisionCode': '行政区划代码', 'f.investors': '投资人',
  'f.investorName': '姓名', 'f.idNumber': '证件号码', 'f.contact': '联系人', 'f.contactName': '联系人姓名', 'f.phone': '联系电话', 'f.email': '电子邮箱（选填）',
  'f.addInvestor': '添加投资人', 'f.removeInvestor': '删除投资人 {n}', 'f.investorN': '投资人 {n}',
  'lf.limited_liability_company': '有限责任公司', 'lf.joint_stock_company': '股份有限公司', 'lf.sole_proprietorship': '个人独资企业',
  'lf.partnership': '合伙企业', 'lf.individual_business': '个体工商户', 'lf.branch': '分支机构',
  'new.title': '录入并联审批申请', 'new.submit': '提交申请', 'new.done': '已登记案件 {ref}', 'new.errors': '请更正标出的字段。', 'new.clear': '清空表单',
  'cases.title': '申请列表', 'cases.filter': '按状态筛选', 'cases.none': '没有案件。', 'cases.total': '共 {n} 件',
  'col.reference': '案件编号', 'col.enterprise': '企业名称', 'col.status': '状态', 'col.updated': '更新时间', 'col.actions': '操作',
  'col.department': '部门', 'col.state': '审查状态', 'col.dueAt': '截止日期', 'col.left': '剩余', 'col.decision': '意见', 'col.reasons': '理由',
  'col.creditCode': '统一社会信用代码', 'col.permitNumber': '许可证编号', 'col.attempts': '尝试次数', 'col.lastError': '最后错误', 'col.kind': '类型',
  'col.count': '数量', 'col.case': '案件',
  'st.submitted': '已提交', 'st.returned': '已退回', 'st.refused': '不予受理', 'st.in_review': '并联审查中', 'st.terminated': '已终止',
  'st.awaiting_licence': '待发照', 'st.licensed': '已发照', 'st.operating': '已开业', 'st.all': '全部',
  'rv.pending_delivery': '待送达', 'rv.delivered': '已送达', 'rv.approved': '同意', 'rv.refused': '不同意', 'rv.extended': '已延期',
  'rv.deemed_approved': '视为同意', 'rv.cancelled': '已取消', 'rv.waiting': '待前序环节审查',
  'act.open': '查看', 'act.accept': '受理', 'act.return': '退回补正', 'act.returnReason': '退回原因', 'act.print.application': '打印申请表',
  'act.print.notification': '打印抄告单', 'act.print': '打印', 'act.back': '返回',
  'case.title': '案件 {ref}', 'case.application': '申请信息', 'case.reviews': '部门审查', 'case.licence': '营业执照', 'case.permits': '许可证',
  'case.timeline': '办理记录', 'case.noReviews': '尚未抄告部门。', 'case.reason': '原因', 'case.refusedRule': '适用规则',
  'op.title': '审查意见', 'op.decision': '意见', 'op.approve': '同意', 'op.refuse': '不同意', 'op.extend': '延期（报上级审查）',
  'op.reasons': '理由（不同意时必填）', 'op.submit': '提交意见', 'op.closed': '本部门的审查为「{state}」，现在不能提交意见。', 'op.reasonsRequired': '不同意时必须填写理由。',
  'op.sent': '意见已提交。',
  'lic.issue': '核发营业执照', 'lic.issued': '已核发营业执照，统一社会信用代码：', 'lic.none': '尚未核发。', 'lic.dueAt': '发照期限',
  'permit.record': '登记许可证', 'permit.outstanding': '待报许可证', 'permit.reported': '已报', 'permit.overdue': '已逾期',
  'queue.title': '{dep} 待审队列', 'queue.none': '暂无待审案件。', 'queue.answered': '本部门全部案件',
  'left.days': '{n} 天', 'left.today': '今日到期', 'left.over': '已超期 {n} 天', 'left.workdays': '{n} 个工作日', 'left.overWorkdays': '已超期 {n} 个工作日',
  'left.note': '剩余时间按工作日计算（法定节假日不计）；日历未覆盖的日期按自然日计算。',
  'reg.licence': '待核发营业执照', 'reg.permits': '许可证待办（已发照）', 'reg.none': '暂无。',
  'sup.title': '效能监察', 'sup.overdue': '超期审查', 'sup.near': '临近截止', 'sup.deemed': '视为同意', 'sup.failed': '投递失败', 'sup.complaintsOverdue': '超期未答复投诉',
  'sup.extended': '延期审查', 'sup.licOverdue': '超期未发照', 'sup.permitOverdue': '超期未报许可证', 'sup.perDept': '各部门审查情况',
  'sup.byStatus': '各状态案件数', 'sup.now': '系统时间 {now}', 'sup.open': '在审', 'sup.provisional': '日历未覆盖的截止日期',
  'adm.title': '系统管理', 'adm.adapters': '适配器', 'adm.departments': '部门', 'adm.routes': '路由', 'adm.eligibility': '准入规则', 'adm.calendar': '工作日历',
  'adm.health': '健康状况', 'adm.enabled': '启用', 'adm.test': '测试', 'adm.enable': '启用', 'adm.disable': '停用', 'adm.ok': '正常', 'adm.bad': '异常',
  'adm.save': '保存', 'adm.saved': '已保存（配置版本 {v}）', 'adm.json': '{what}（JSON）', 'adm.testOk': '测试成功：往返 {ms} 毫秒', 'adm.testFail': '测试失败：{why}',
  'adm.version': '日历版本 {v}；覆盖年份：{years}', 'adm.day': '日期', 'adm.dayKind': '类型', 'adm.setDay': '设置',
  'dk.holiday': '节假日', 'dk.workday': '调休工作日', 'dk.normal': '按周一至周五',
  'adm.users': '用户', 'adm.keys': '密钥', 'adm.addUser': '添加用户', 'adm.role': '角色', 'adm.userDept': '所属部门（仅审批部门用户）', 'adm.userDeptHint': '部门编号，例如 xw-fire',
  'adm.passwordHint': '至少 8 个字符', 'adm.userAdded': '已添加用户 {name}。请将下面的密钥录入身份验证器；它只显示这一次。',
  'adm.keyOwner': '所有者', 'adm.keyAlg': '算法', 'adm.keyValid': '有效期', 'adm.rotate': '轮换', 'adm.revoke': '吊销', 'adm.keyDone': '已完成。',
  'adm.revokeConfirm': '确定立即吊销密钥 {kid}？吊销后以其签名的报文将被拒收。', 'ks.active': '有效', 'ks.retiring': '过渡期', 'ks.revoked': '已吊销',
  'adm.depId': '编号', 'adm.depName': '名称', 'adm.depType': '类型', 'adm.depLevel': '层级', 'adm.depAdapter': '适配器', 'adm.editDept': '编辑部门（JSON）',
  'yes': '是', 'no': '否', 'error': '出错了：{msg}', 'forbidden': '您的角色无权查看此页。', 'notFound': '没有这个页面。',
  'err.required': '必填', 'err.pattern': '格式不正确', 'err.minLength': '太短', 'err.maxLength': '太长', 'err.minimum': '数值太小',
  'err.maximum': '数值太大', 'err.type': '类型不正确', 'err.enum': '请从列表中选择', 'err.minItems': '至少选择一项', 'err.format': '格式不正确',
  'err.uniqueItems': '有重复项', 'err.additionalProperties': '未知字段',
  'code.DUPLICATE_APPLICATION': '该企业名称在本区已有待办申请。', 'code.LOGIN_FAILED': '用户名、密码或动态口令错误。',
  'code.LOGIN_RATE_LIMITED': '登录尝试过多，请稍后再试。', 'code.FORBIDDEN': '您的角色无权执行此操作。',
  'code.TRANSITION_NOT_ALLOWED': '案件当前状态不允许此操作。', 'code.REVIEW_NOT_OPEN': '本部门的审查已结束。', 'code.ALREADY_EXTENDED': '已延期过一次，不能再次延期。',
  'code.MESSAGE_UNSIGNED': '网关要求签名的意见；控制台提交的意见未签名。',
};
const en = {
  'app.title': 'Parallel approval console', 'skip': 'Skip to content', 'lang.switch': '中文', 'logout': 'Log out', 'loading': 'Loading…',
  'live.on': '● Live', 'live.off': '○ Connection lost, reconnecting…', 'live.connecting': '○ Connecting…',
  'nav.new': 'New application', 'nav.cases': 'Applications', 'nav.queue': 'Review queue', 'nav.licence': 'Licences due', 'nav.permits': 'Permits',
  'nav.supervision': 'Supervision', 'nav.admin': 'Administration', 'nav.all': 'All cases',
  'role.secretary': 'Secretary', 'role.registrar': 'Registrar', 'role.reviewer': 'Reviewer', 'role.supervisor': 'Supervisor', 'role.admin': 'Administrator',
  'login.title': 'Log in', 'login.username': 'User name', 'login.password': 'Password', 'login.otp': 'One-time code (6 digits)', 'login.submit': 'Log in',
  'login.expired': 'Your session expired; log in again. What you typed is kept.', 'login.otpHint': 'The 6 digits your authenticator shows',
  'stepup.title': 'Confirm it is you', 'stepup.why': 'This action needs a fresh one-time code: enter the 6 digits your authenticator shows now.', 'stepup.confirm': 'Confirm', 'stepup.cancel': 'Cancel',
  'stepup.failed': 'That code was not accepted; enter a new one.', 'code.STEP_UP_REQUIRED': 'This action needs a fresh one-time code.', 'code.STEP_UP_FAILED': 'The one-time code was not accepted.',
  'f.enterpriseName': 'Enterprise name', 'f.legalForm': 'Legal form', 'f.registeredCapital': 'Registered capital (yuan)', 'f.industry': 'Industry',
  'f.businessScope': 'Business scope', 'f.address': 'Address', 'f.divisionCode': 'Division code', 'f.investors': 'Investors',
  'f.investorName': 'Name', 'f.idNumber': 'Identity number', 'f.contact': 'Contact', 'f.contactName': 'Contact name', 'f.phone': 'Phone', 'f.email': 'E-mail (optional)',
  'f.addInvestor': 'Add investor', 'f.removeInvestor': 'Remove investor {n}', 'f.investorN': 'Investor {n}',
  'lf.limited_liability_company': 'Limited liability company', 'lf.joint_stock_company': 'Joint-stock company', 'lf.sole_proprietorship': 'Sole proprietorship',
  'lf.partnership': 'Partnership', 'lf.individual_business': 'Individual business', 'lf.branch': 'Branch',
  'new.title': 'Enter a parallel-approval application', 'new.submit': 'Submit application', 'new.done': 'Case {ref} registered', 'new.errors': 'Please correct the marked fields.', 'new.clear': 'Clear form',
  'cases.title': 'Applications', 'cases.filter': 'Filter by status', 'cases.none': 'No cases.', 'cases.total': '{n} in all',
  'col.reference': 'Reference', 'col.enterprise': 'Enterprise', 'col.status': 'Status', 'col.updated': 'Updated', 'col.actions': 'Actions',
  'col.department': 'Department', 'col.state': 'Review state', 'col.dueAt': 'Due', 'col.left': 'Left', 'col.decision': 'Decision', 'col.reasons': 'Reasons',
  'col.creditCode': 'Unified social credit code', 'col.permitNumber': 'Permit number', 'col.attempts': 'Attempts', 'col.lastError': 'Last error', 'col.kind': 'Kind',
  'col.count': 'Count', 'col.case': 'Case',
  'st.submitted': 'Submitted', 'st.returned': 'Returned', 'st.refused': 'Refused (out of scope)', 'st.in_review': 'In review', 'st.terminated': 'Terminated',
  'st.awaiting_licence': 'Awaiting licence', 'st.licensed': 'Licensed', 'st.operating': 'Operating', 'st.all': 'All',
  'rv.pending_delivery': 'Pending delivery', 'rv.delivered': 'Delivered', 'rv.approved': 'Approved', 'rv.refused': 'Refused', 'rv.extended': 'Extended',
  'rv.deemed_approved': 'Deemed approved', 'rv.cancelled': 'Cancelled', 'rv.waiting': 'Waiting for the step before',
  'act.open': 'Open', 'act.accept': 'Accept', 'act.return': 'Return for correction', 'act.returnReason': 'Reason for returning', 'act.print.application': 'Print application',
  'act.print.notification': 'Print notification form', 'act.print': 'Print', 'act.back': 'Back',
  'case.title': 'Case {ref}', 'case.application': 'Application', 'case.reviews': 'Department reviews', 'case.licence': 'Business licence', 'case.permits': 'Permits',
  'case.timeline': 'Timeline', 'case.noReviews': 'No department notified yet.', 'case.reason': 'Reason', 'case.refusedRule': 'Rule',
  'op.title': 'Opinion', 'op.decision': 'Decision', 'op.approve': 'Approve', 'op.refuse': 'Refuse', 'op.extend': 'Extend (superior review)',
  'op.reasons': 'Reasons (required to refuse)', 'op.submit': 'Send opinion', 'op.closed': 'Your department\'s review is "{state}" and takes no opinion now.', 'op.reasonsRequired': 'Give reasons to refuse.',
  'op.sent': 'Opinion sent.',
  'lic.issue': 'Issue the business licence', 'lic.issued': 'Licence issued, unified social credit code:', 'lic.none': 'Not issued yet.', 'lic.dueAt': 'Licence due',
  'permit.record': 'Record permit', 'permit.outstanding': 'Permits outstanding', 'permit.reported': 'Reported', 'permit.overdue': 'Overdue',
  'queue.title': 'Review queue of {dep}', 'queue.none': 'Nothing to review.', 'queue.answered': 'All cases of your department',
  'left.days': '{n} days', 'left.today': 'due today', 'left.over': '{n} days overdue', 'left.workdays': '{n} working days', 'left.overWorkdays': '{n} working days overdue',
  'left.note': 'Counted in working days (public holidays excluded); calendar days where the calendar does not cover the dates yet.',
  'reg.licence': 'Cases ready for the licence', 'reg.permits': 'Permits outstanding (licensed)', 'reg.none': 'None.',
  'sup.title': 'Supervision', 'sup.overdue': 'Overdue reviews', 'sup.near': 'Near the deadline', 'sup.deemed': 'Deemed approvals', 'sup.failed': 'Failed deliveries', 'sup.complaintsOverdue': 'Complaints overdue',
  'sup.extended': 'Extended reviews', 'sup.licOverdue': 'Licences overdue', 'sup.permitOverdue': 'Permits overdue', 'sup.perDept': 'Reviews per department',
  'sup.byStatus': 'Cases per status', 'sup.now': 'Gateway time {now}', 'sup.open': 'Open', 'sup.provisional': 'Deadlines the calendar does not cover',
  'adm.title': 'Administration', 'adm.adapters': 'Adapters', 'adm.departments': 'Departments', 'adm.routes': 'Routes', 'adm.eligibility': 'Eligibility rules', 'adm.calendar': 'Calendar',
  'adm.health': 'Health', 'adm.enabled': 'Enabled', 'adm.test': 'Test', 'adm.enable': 'Enable', 'adm.disable': 'Disable', 'adm.ok': 'healthy', 'adm.bad': 'unhealthy',
  'adm.save': 'Save', 'adm.saved': 'Saved (configuration version {v})', 'adm.json': '{what} (JSON)', 'adm.testOk': 'Test passed: round trip {ms} ms', 'adm.testFail': 'Test failed: {why}',
  'adm.version': 'Calendar version {v}; years covered: {years}', 'adm.day': 'Date', 'adm.dayKind': 'Kind', 'adm.setDay': 'Set',
  'dk.holiday': 'Holiday', 'dk.workday': 'Adjusted working day', 'dk.normal': 'Monday to Friday rule',
  'adm.depId': 'Id', 'adm.depName': 'Name', 'adm.depType': 'Type', 'adm.depLevel': 'Level', 'adm.depAdapter': 'Adapter', 'adm.editDept': 'Edit a department (JSON)',
  'adm.users': 'Users', 'adm.keys': 'Keys', 'adm.addUser': 'Add a user', 'adm.role': 'Role', 'adm.userDept': 'Department (reviewers only)', 'adm.userDeptHint': 'A department id, e.g. xw-fire',
  'adm.passwordHint': 'At least 8 characters', 'adm.userAdded': 'User {name} added. Enrol the secret below in an authenticator app; it is shown this once.',
  'adm.keyOwner': 'Owner', 'adm.keyAlg': 'Algorithm', 'adm.keyValid': 'Valid', 'adm.rotate': 'Rotate', 'adm.revoke': 'Revoke', 'adm.keyDone': 'Done.',
  'adm.revokeConfirm': 'Revoke key {kid} now? Messages signed with it will be refused.', 'ks.active': 'Active', 'ks.retiring': 'Retiring', 'ks.revoked': 'Revoked',
  'yes': 'yes', 'no': 'no', 'error': 'Something went wrong: {msg}', 'forbidden': 'Your role may not see this page.', 'notFound': 'No such page.',
  'err.required': 'is required', 'err.pattern': 'has the wrong format', 'err.minLength': 'is too short', 'err.maxLength': 'is too long', 'err.minimum': 'is too small',
  'err.maximum': 'is too large', 'err.type': 'has the wrong type', 'err.enum': 'choose from the list', 'err.minItems': 'choose at least one', 'err.format': 'has the wrong format',
  'err.uniqueItems': 'has duplicates', 'err.additionalProperties': 'is not a known field',
};
const dicts = { 'zh-CN': zh, en };

export let lang = localStorage.getItem('pag.lang') === 'en' ? 'en' : 'zh-CN';

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh-CN';
  localStorage.setItem('pag.lang', lang);
  document.documentElement.lang = lang;
}

/** The text for a key in the current language, {name} replaced; English API messages stand in for unknown codes. */
export function t(key, vars = {}) {
  const text = dicts[lang][key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

export const has = (key) => key in dicts[lang];

/** Dates as a person in Nanjing reads them, whatever the browser's time zone. */
export function fmtDate(iso, withTime = false) {
  if (!iso) return '—';
  const opts = { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', ...(withTime ? { hour: '2-digit', minute: '2-digit', hour12: false } : {}) };
  return new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'zh-CN', opts).format(new Date(iso));
}
