"""What the SMS hall itself says (prompts, menus, refusals), in zh-CN and English.

Businesses' own replies live in the catalogue; these are the words around them.
"""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, tuple[str, str]] = {
    "confirm": ("您将办理“{what}”，资费{price}，{effective}。回复“是”确认办理，10分钟内有效，回复其他内容取消。",
                "You are ordering {what}, {price}, effective {effective}. Reply Y within 10 minutes to confirm; "
                "anything else cancels."),
    "confirm_free": ("您将办理“{what}”。回复“是”确认办理，10分钟内有效，回复其他内容取消。",
                     "You are about to: {what}. Reply Y within 10 minutes to confirm; anything else cancels."),
    "confirm_off": ("您将退订“{what}”。回复“是”确认退订，10分钟内有效，回复其他内容取消。",
                    "You are about to cancel {what}. Reply Y within 10 minutes to confirm; anything else keeps it."),
    "cancelled": ("您已取消办理“{what}”，未产生任何费用。", "{what} was not ordered; nothing was charged."),
    "expired": ("您的办理请求已超过10分钟有效期，请重新发送业务指令。",
                "Your request expired after 10 minutes; please send the command again."),
    "nothing_pending": ("您当前没有待确认的业务。发送“10086”获取业务菜单。",
                        "You have nothing waiting for confirmation. Send 10086 for the menu."),
    "password": ("您正在办理“{what}”，需验证服务密码。请直接回复6位服务密码；如密码不足6位，请在密码前加“*”，如*1234。",
                 "{what} needs your service password. Reply with your 6-digit password; if it is shorter, "
                 "put * in front, e.g. *1234."),
    "password_format": ("密码格式不正确：6位服务密码请直接回复；不足6位请在密码前加“*”，如*1234。",
                        "Reply a 6-digit password as it is; put * in front of a shorter one, e.g. *1234."),
    "short_password": ("温馨提示：您的服务密码不足6位，为保障账户安全，"
                       "请发送“BGMM#原密码#新密码#新密码”修改为6位密码。",
                       "Your service password is shorter than 6 digits; please change it to 6 digits with "
                       "BGMM#old#new#new."),
    "choose": ("{prompt}\n{lines}\n回复序号选择。", "{prompt}\n{lines}\nReply the number to choose."),
    "menu_category": ("{category}，回复序号选择：\n{lines}\n回复0返回主菜单。",
                      "{category}, reply a number:\n{lines}\nReply 0 for the main menu."),
    "menu_bad": ("没有序号“{choice}”，请回复菜单中的序号，或发送“10086”重新获取菜单。",
                 "There is no option {choice}; reply a number from the menu, or send 10086 again."),
    "serial_bad": ("没有序号“{choice}”，请按0000回复中的序号退订，多个序号用逗号分隔。",
                   "There is no serial {choice}; reply serials from the 0000 list, separated by commas."),
    "no_cancel_all": ("为避免误退订，不支持一次性全部退订，请回复要退订的业务序号，多个序号用逗号分隔，如“1,2”。",
                      "To avoid mistakes there is no cancel-all; reply the serial numbers to cancel, e.g. 1,2."),
    "serial_result": ("{n}.{result}", "{n}. {result}"),
    "unknown": ("尊敬的客户，您发送的“{text}”暂未能识别。", "Sorry, we did not understand \"{text}\"."),
    "unknown_hint": ("您是否要办理：\n{lines}\n发送“10086”获取业务菜单。",
                     "Did you mean:\n{lines}\nSend 10086 for the menu."),
    "unknown_menu": ("请发送“10086”获取业务菜单，或发送CXHF查话费、CXLL查流量、0000查询已订业务。",
                     "Send 10086 for the menu, CXHF for charges, CXLL for data, 0000 for your subscriptions."),
    "nothing_to_choose": ("您当前没有可办理的相关业务。发送0000查询已订业务。",
                          "There is nothing of that kind to choose from. Send 0000 for your subscriptions."),
    "not_on_sms": ("“{what}”暂不支持短信办理。", "{what} cannot be done by SMS."),
    "rate_limited": ("尊敬的客户，您发送短信过于频繁，请稍后再试。",
                     "You are sending messages too quickly; please try again later."),
    "not_ours": ("尊敬的客户，您的号码不是本网有效用户，无法使用短信营业厅。",
                 "Your number is not an active China Mobile number; the SMS service is not available."),
    "error": ("尊敬的客户，系统繁忙，您的请求未能处理，未产生任何费用，请稍后再试。",
              "Sorry, the system is busy and nothing was done or charged; please try again later."),
    "overflow": ("（内容较长，完整内容请登录中国移动网上营业厅 https://www.10086.cn 查看）",
                 "(More at https://www.10086.cn)"),
    "redacted": ("（该回复含服务密码，按规定不留存）", "(this reply held a password and is not kept)"),
}


def say(key: str, lang: str, **fields: Any) -> str:
    zh, en = TEXTS[key]
    return (en if lang.startswith("en") else zh).format(**fields)
