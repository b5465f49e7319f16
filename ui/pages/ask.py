"""Ask: a chat over kb's assistant with citations, 👍/👎 and "remember this" corrections."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import state

st.title("Ask")


def _vote(answer_id: str) -> None:
    value = st.session_state.get(f"vote_{answer_id}")
    if value is None:
        return
    with state.guarded():  # a callback's failure too is a message, not a traceback
        state.get_kb().feedback(answer_id, "up" if value == 1 else "down")
        st.toast("Thanks: your vote is recorded.")


def _render(answer: dict[str, Any]) -> None:
    st.markdown(answer["answer"])
    if answer["watch_out"]:
        st.markdown("**Watch out**")
        for item in answer["watch_out"]:
            st.markdown(f"- {item}")
    if answer["ask"]:
        st.markdown("**Ask**")
        for p in answer["ask"]:
            left = " (has left)" if p["departed"] else ""
            st.markdown(f"- **{p['name']}**{left}: {p['reason']}")
    if answer["citations"]:
        st.markdown("**Sources**")
        for c in answer["citations"]:
            title = c["title"].replace("[", "(").replace("]", ")")
            where = ":".join(x for x in (c["repo"], c["path"]) if x)
            label = f"[{title}]({c['url']})" if c["url"] else title
            extra = f" (`{where}`)" if where and not c["url"] else ""
            st.markdown(f"[{c['number']}] {c['kind']}: {label}{extra}")
    st.caption(f"confidence {answer['confidence']:.2f} · answer id `{answer['id']}`")
    st.feedback("thumbs", key=f"vote_{answer['id']}", on_change=_vote, args=(answer["id"],))
    with (
        st.expander("Remember this: correct or complete the answer"),
        st.form(f"remember_{answer['id']}", clear_on_submit=True),
    ):
        text = st.text_area("What should kb know?", key=f"note_{answer['id']}")
        services = answer["services"]
        service = st.selectbox("Service", ["(none)", *services], key=f"note_svc_{answer['id']}")
        by = st.text_input("Your name", key=f"note_by_{answer['id']}")
        if st.form_submit_button("Remember") and text.strip():
            note = state.get_kb().remember(
                text.strip(),
                service=None if service == "(none)" else service,
                by=by.strip() or None,
            )
            st.success(f"Remembered as `{note.id}`.")


def page() -> None:
    """The conversation, then the input."""
    if not state.require_kb():
        return
    history: list[dict[str, Any]] = st.session_state.setdefault("chat", [])
    if not history:
        st.caption('Ask why something is the way it is, e.g. "why is payment to order async?"')
    for turn in history:
        with st.chat_message("user"):
            st.markdown(turn["question"])
        with st.chat_message("assistant"):
            _render(turn)
    question = st.chat_input("Ask kb…")
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"), st.spinner("Searching…"):
        answer = state.get_kb().ask(question, surface="ui").to_json()
        history.append(answer)
        _render(answer)


with state.guarded():
    page()
