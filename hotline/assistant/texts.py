"""What 小贝 says around the businesses' own replies, in zh-CN and English."""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, tuple[str, str]] = {
    "greet": ("您好，我是中国移动智能客服小贝，可以帮您查话费、查流量、办套餐、开通或退订业务、解答资费问题。"
              "请问有什么可以帮您？",
              "Hello, I'm Xiaobei, China Mobile's assistant. I can check your charges and data, change plans, "
              "add or cancel services and answer questions. How can I help?"),
    "thanks": ("不客气，很高兴为您服务！还有其他问题可以随时问我。", "You're welcome! Ask me anytime."),
    "goodbye": ("感谢您的咨询，祝您生活愉快，再见！", "Thank you, goodbye!"),
    "anything_else": ("好的。请问还有什么可以帮您？", "All right. Anything else I can help with?"),
    "out_of_scope": ("抱歉，这个问题小贝暂时帮不上忙。我可以帮您查话费、查流量、办理或退订业务、解答资费和网络问题。",
                     "Sorry, I can't help with that. I can check charges and data, order or cancel services "
                     "and answer questions about rates and the network."),
    "not_understood": ("抱歉，小贝没太听明白。您是想办理以下哪一项？请回复序号：\n{lines}",
                       "Sorry, I'm not sure I understood. Did you mean one of these? Reply a number:\n{lines}"),
    "not_understood_plain": ("抱歉，小贝没太听明白，您可以换个说法，比如“查一下话费”“办个流量包”。",
                             "Sorry, I didn't understand. Try e.g. “check my charges” or “add a data pack”."),
    "offer_human": ("抱歉，我好像没能理解您的问题。需要为您转接人工客服吗？回复“是”转人工，回复“不”继续和小贝聊。",
                    "Sorry I couldn't understand. Shall I connect you to an agent? Reply yes, or no to go on."),
    "handoff": ("好的，正在为您转接人工客服，请稍候。客服会看到我们刚才的对话，您不用再重复。",
                "Connecting you to an agent; they will see our conversation, so you won't need to repeat it."),
    "handoff_priority": ("非常抱歉给您带来了不好的体验。已为您优先转接人工客服，请稍候。"
                         "如需投诉，回复“投诉”，我马上为您登记。",
                         "I'm very sorry about this. You are being put through to an agent with priority. "
                         "To file a complaint now, reply “complaint”."),
    "handoff_waiting": ("已为您转接人工客服，正在排队，请稍候。等待期间小贝仍可帮您查询和办理业务。",
                        "You are in the queue for an agent. Meanwhile I can still help with queries."),
    "ask_msisdn": ("办理“{what}”需要先验证身份，请输入您的中国移动手机号码。",
                   "{what} needs your identity. Please enter your China Mobile number."),
    "bad_msisdn": ("这个号码不是有效的中国移动手机号码，请重新输入11位手机号。",
                   "That is not a valid China Mobile number; please enter the 11-digit number."),
    "otp_sent": ("验证码已发送到{masked}，5分钟内有效，请输入收到的6位验证码。",
                 "A code was sent to {masked}, valid for 5 minutes. Please enter the 6 digits."),
    "otp_sms": ("【中国移动】您的验证码为{code}，5分钟内有效，用于智能客服身份验证。工作人员不会向您索取，请勿泄露。",
                "[China Mobile] Your code is {code}, valid 5 minutes, for the online assistant. Never share it."),
    "otp_wrong": ("验证码不正确，还可以再试{left}次。回复“重发”可重新获取。",
                  "Wrong code; {left} tries left. Reply “resend” for a new one."),
    "otp_failed": ("验证码错误次数过多，本次验证已失效。如需继续，请重新发起业务。",
                   "Too many wrong codes; verification stopped. Please start again."),
    "otp_expired": ("验证码已过期，已为您重新发送。", "The code expired; a new one was sent."),
    "password": ("办理“{what}”需要验证服务密码，请输入6位服务密码。也可以回复“验证码”，改用短信验证码验证。",
                 "{what} needs your 6-digit service password. Or reply “code” to verify by SMS instead."),
    "password_format": ("服务密码是6位数字，请重新输入；也可回复“验证码”改用短信验证码。",
                        "The service password is 6 digits; try again, or reply “code” for an SMS code."),
    "confirm": ("您将办理“{what}”，资费{price}，{effective}。确认办理请回复“是”，不办理请回复“不”。",
                "You are ordering {what}, {price}, effective {effective}. Reply yes to confirm or no to cancel."),
    "confirm_free": ("您将办理“{what}”。确认请回复“是”，取消请回复“不”。",
                     "You are about to: {what}. Reply yes to confirm or no to cancel."),
    "confirm_off": ("您将退订/关闭“{what}”。确认请回复“是”，不退订请回复“不”。",
                    "You are about to cancel or turn off {what}. Reply yes to confirm or no to keep it."),
    "confirm_again": ("请回复“是”确认办理“{what}”，或回复“不”取消。", "Reply yes to confirm {what}, or no to cancel."),
    "cancelled": ("好的，已取消办理“{what}”，没有产生任何费用。还有什么可以帮您？",
                  "OK, {what} was cancelled; nothing was charged. Anything else?"),
    "choose": ("{prompt}请回复序号或名称：\n{lines}", "{prompt} Reply a number or a name:\n{lines}"),
    "choose_again": ("没有找到您说的选项，请回复序号：\n{lines}", "I couldn't match that; reply a number:\n{lines}"),
    "ask_slot": ("{prompt}", "{prompt}"),
    "ask_content": ("请简单描述一下您遇到的问题（时间、地点、现象），我来为您登记。",
                    "Please describe the problem (when, where, what happens) and I'll file it."),
    "nothing_to_choose": ("您当前没有可以办理此项的业务。", "You have nothing this applies to."),
    "article": ("{body}\n（以上内容来自知识库《{title}》）", "{body}\n(From the knowledge base: “{title}”)"),
    "guide": ("{guide}", "{guide}"),
    "switched": ("好的，改为为您办理“{what}”。", "OK, switching to {what}."),
    "error": ("抱歉，系统繁忙，请稍后再试。您的业务没有办理，也没有扣费。",
              "Sorry, the system is busy; nothing was done or charged. Please try again."),
    "empty": ("请问有什么可以帮您？", "How can I help?"),
    "not_ours": ("抱歉，该号码不是中国移动用户，无法办理。", "Sorry, that number is not a China Mobile number."),
}


def say(key: str, lang: str, **fields: Any) -> str:
    zh, en = TEXTS[key]
    return (en if lang.startswith("en") else zh).format(**fields)
