"""Puts a customer in front of an agent the way routing does: the agent signs in and goes available, the
contact is queued, offered and accepted. Desk customer actions happen only inside such a contact."""

from __future__ import annotations

from typing import Any

from hotline.routing.model import AgentProfile, Channel, NewContact, Presence


def serve(hl: Any, login: str, msisdn: str | None, *, conversation_id: str | None = None,
          contact_id: str | None = None, skills: dict[str, int] | None = None) -> str:
    """An ACTIVE contact of ``login`` for ``msisdn`` (routed through ``hl.router``); its id.

    Other signed-in agents are set offline for the offer so that it goes to ``login``."""
    router = hl.router
    others = [a.agent_id for a in router.agents() if a.agent_id != login and str(a.presence) == "available"]
    for other in others:
        router.set_presence(other, Presence.OFFLINE)
    if router.agent(login) is None:
        router.login(AgentProfile(agent_id=login, name=login, skills=skills or {"general": 8, "billing": 8,
                                                                                "orders": 8}))
    router.set_presence(login, Presence.AVAILABLE)
    context = {"conversation_id": conversation_id} if conversation_id else {}
    contact = router.enqueue(NewContact(Channel.CHAT, msisdn=msisdn, queue="general", context=context,
                                        contact_id=contact_id))
    router.dispatch()
    router.accept(login, contact.contact_id)
    for other in others:
        router.set_presence(other, Presence.AVAILABLE)
    return contact.contact_id


def finish(hl: Any, login: str, contact_id: str) -> None:
    """The talk ends: the contact goes to wrap-up."""
    hl.router.finish(login, contact_id)


def wrap_up(hl: Any, login: str, contact_id: str) -> None:
    """The contact is over (done)."""
    hl.router.wrap_up(login, contact_id, "resolved")
