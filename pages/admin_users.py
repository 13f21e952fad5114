"""Users and teams (admin): create a user, change a role or team, deactivate, reset a password;
create and change teams; move accounts between account managers, one or many. Every write is
versioned and audited (valuation.admin)."""

import pandas as pd
import streamlit as st

from ui import admin as A
from ui import state, widgets
from ui.nav import require_page
from ui.session import current_user, lang, tr
from valuation import admin, features, i18n
from valuation.access import ROLES
from valuation.schema import enum_label
from valuation.store import ConflictError

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
store = state.store()
L = lang()
zh = L == "zh"
_SHOWN = "adm_password"  # (user_id, password) to hand over once
_PENDING = "adm_dialog"  # (which confirmation, its arguments): open until answered or closed


def _seen(kind: str, key: str, version: int) -> int:
    """The version of a row as the editor first saw it: kept until the edit is saved (or
    refused), so a change someone else saved meanwhile is refused, not overwritten."""
    return int(st.session_state.setdefault(f"adm_seen:{kind}:{key}", version))


def _forget(kind: str, key: str) -> None:
    st.session_state.pop(f"adm_seen:{kind}:{key}", None)


def _refused(exc: Exception, kind: str, key: str) -> None:
    if isinstance(exc, ConflictError):
        _forget(kind, key)  # the form shows the current row on the next run
    st.error(A.error_text(exc), icon=":material/block:")


def _names(df: pd.DataFrame) -> pd.Series:
    """The people (or teams) of ``df`` by name in the reader's language."""
    if zh:
        return df["name"].astype(str)
    en = df["name_en"].astype(object)
    return en.where(en.notna() & (en != ""), df["name"]).astype(str)


st.title(tr("admin.users.title"))
st.caption(tr("admin.users.caption"))

shown = st.session_state.get(_SHOWN)
if shown:
    with st.container(border=True):
        st.warning(tr("admin.password_once"), icon=":material/key:")
        c1, c2 = st.columns([1, 3])
        c1.text(shown[0])
        c2.code(shown[1], language=None)
        if st.button(tr("admin.password_noted"), key="adm_pw_noted"):
            st.session_state.pop(_SHOWN, None)
            st.rerun()

people = admin.directory(store)
team_rows = admin.teams(store)
team_names = team_rows.set_index("team_id")["name" if zh else "name_en"].fillna(
    team_rows.set_index("team_id")["name"]).to_dict()
role_label = {r: enum_label("role", r, L) for r in ROLES}

tabs = st.tabs([tr("admin.tab.users"), tr("admin.tab.teams"), tr("admin.tab.move")],
               key="adm_tab", on_change="rerun")


# -- confirmations -------------------------------------------------------------------------------
def _ask(kind: str, **kw: object) -> None:
    """Open a confirmation; it stays open across reruns until answered or closed."""
    st.session_state[_PENDING] = (kind, kw)


def _close() -> None:
    st.session_state.pop(_PENDING, None)


def _answer_buttons(yes_label: str, key: str) -> tuple[bool, bool]:
    yes, no = st.columns(2)
    ok = yes.button(yes_label, type="primary", key=f"{key}_yes")
    cancel = no.button(tr("action.cancel"), key=f"{key}_no")
    if cancel:
        _close()
        st.rerun()
    return ok, cancel


@A.dialog(tr("admin.deactivate_title"), on_dismiss=_close)
def _confirm_deactivate(uid: str, version: int, accounts: int) -> None:
    st.text(uid)
    st.write(tr("admin.deactivate_confirm", n=f"{accounts:,}"))
    ok, _ = _answer_buttons(tr("admin.deactivate"), "adm_deact")
    if not ok:
        return
    try:
        admin.set_active(store, uid, False, by=user.user_id, expected_version=version)
    except (admin.AdminError, ConflictError) as exc:
        _forget("user", uid)
        st.error(A.error_text(exc), icon=":material/block:")
        return
    _forget("user", uid)
    _close()
    widgets.flash(tr("admin.deactivated"))
    st.rerun()


@A.dialog(tr("admin.reset_title"), on_dismiss=_close)
def _confirm_reset(uid: str) -> None:
    st.text(uid)
    st.write(tr("admin.reset_confirm"))
    pw = st.text_input(tr("admin.password"), type="password", key="adm_reset_pw",
                       help=tr("admin.password_help"))
    ok, _ = _answer_buttons(tr("admin.reset"), "adm_reset")
    if not ok:
        return
    try:
        got = admin.reset_password(store, uid, by=user.user_id, password=pw or None)
    except (admin.AdminError, ValueError) as exc:
        st.error(A.error_text(exc), icon=":material/block:")
        return
    _close()
    if not pw:
        st.session_state[_SHOWN] = (uid, got)
    widgets.flash(tr("admin.reset_done"))
    st.rerun()


# -- users ---------------------------------------------------------------------------------------


def _user_form(kind: str, row: pd.Series | None) -> dict | None:
    """The fields of a user (new when ``row`` is None); what was submitted, or None."""
    new = row is None
    teams_ids = ["", *team_rows["team_id"].tolist()]
    with st.form(f"adm_{kind}"):
        if new:
            uid = st.text_input(tr("admin.user_id"), key=f"adm_{kind}_id",
                                help=tr("admin.user_id_help"))
        c1, c2 = st.columns(2)
        name = c1.text_input(tr("admin.name"), value="" if new else str(row["name"]),
                             key=f"adm_{kind}_name")
        name_en = c2.text_input(tr("admin.name_en"), value="" if new or pd.isna(row["name_en"])
                                else str(row["name_en"]), key=f"adm_{kind}_name_en")
        c3, c4 = st.columns(2)
        role = c3.selectbox(tr("admin.role"), list(ROLES), format_func=role_label.get,
                            index=0 if new else list(ROLES).index(row["role"]),
                            key=f"adm_{kind}_role")
        team_now = "" if new or pd.isna(row["team_id"]) else str(row["team_id"])
        team = c4.selectbox(tr("admin.team"), teams_ids,
                            index=teams_ids.index(team_now) if team_now in teams_ids else 0,
                            format_func=lambda t: f"{team_names.get(t, t)} ({t})" if t else "–",
                            key=f"adm_{kind}_team", help=tr("admin.team_help"))
        email = st.text_input(tr("admin.email"), value="" if new or pd.isna(row["email"])
                              else str(row["email"]), key=f"adm_{kind}_email")
        if new:
            pw = st.text_input(tr("admin.password"), type="password", key=f"adm_{kind}_pw",
                               help=tr("admin.password_help"))
        done = st.form_submit_button(tr("admin.create" if new else "admin.save"),
                                     type="primary", key=f"adm_{kind}_submit")
    if not done:
        return None
    out = {"name": name, "name_en": name_en, "role": role, "team_id": team or None,
           "email": email}
    if new:
        out.update(user_id=uid, password=pw)
    return out


def _users_tab() -> None:
    active = people["active"]
    k = st.columns(4)
    k[0].metric(tr("admin.users_n"), f"{len(people):,}")
    k[1].metric(tr("admin.deactivated_n"), f"{int((~active).sum()):,}")
    k[2].metric(tr("admin.no_password_n"), f"{int((active & ~people['has_password']).sum()):,}",
                help=tr("admin.no_password_help"))
    k[3].metric(tr("admin.locked_n"), f"{int(people['locked_until'].notna().sum()):,}")

    with st.expander(tr("admin.create_user"), icon=":material/person_add:"):
        got = _user_form("new", None)
        if got is not None:
            try:
                pw = admin.create_user(store, by=user.user_id, **{
                    k: v for k, v in got.items() if k != "password"},
                    password=got["password"] or None)
            except (admin.AdminError, ConflictError, ValueError) as exc:
                st.error(A.error_text(exc), icon=":material/block:")
            else:
                if not got["password"]:
                    st.session_state[_SHOWN] = (str(got["user_id"]).strip(), pw)
                widgets.flash(tr("admin.created"))
                st.rerun()

    c1, c2 = st.columns([2, 3])
    search = c1.text_input(tr("admin.search"), key="adm_search",
                           placeholder=tr("admin.search_hint"))
    roles = c2.multiselect(tr("admin.role"), list(ROLES), format_func=role_label.get,
                           key="adm_roles", placeholder=tr("filter.any"))
    keep = pd.Series(True, index=people.index)
    if search.strip():
        q = search.strip().lower()
        keep &= (people["user_id"].str.lower().str.contains(q, regex=False)
                 | people["name"].fillna("").str.lower().str.contains(q, regex=False)
                 | people["name_en"].fillna("").str.lower().str.contains(q, regex=False))
    if roles:
        keep &= people["role"].isin(roles)
    view = people[keep].reset_index(drop=True)
    status = pd.Series(tr("admin.status.active"), index=view.index, dtype=object)
    status = status.where(view["has_password"], tr("admin.status.no_password"))
    status = status.where(view["locked_until"].isna(), tr("admin.status.locked"))
    status = status.where(view["active"], tr("admin.status.deactivated"))
    table = pd.DataFrame({
        tr("admin.user_id"): view["user_id"],
        tr("admin.name"): _names(view),
        tr("admin.role"): view["role"].map(role_label).fillna(view["role"]),
        tr("admin.team"): widgets.dash(view["team_id"].map(team_names)),
        tr("admin.status"): status,
        tr("admin.accounts"): view["accounts"],
        tr("admin.last_sign_in"): A.moments(view["last_sign_in"]),
        tr("admin.changed"): view["changed"].map({True: tr("label.yes"), False: ""}),
        tr("admin.email"): widgets.dash(view["email"]),
    })
    shown_rows = widgets.capped(table)
    small = st.column_config.Column(width="small")
    event = st.dataframe(shown_rows, hide_index=True, width="stretch", height=320,
                         on_select="rerun", selection_mode="single-row",
                         key=widgets.selection_key("adm_users", view.head(len(shown_rows)),
                                                   ["user_id", "version"]),
                         column_config={tr("admin.user_id"): small, tr("admin.status"): small,
                                        tr("admin.accounts"): small,
                                        tr("admin.changed"): small,
                                        tr("admin.last_sign_in"): st.column_config.Column(
                                            width="medium")})
    note = widgets.capped_note(len(table))
    st.caption(note or tr("admin.users_shown", n=f"{len(view):,}", total=f"{len(people):,}"))
    widgets.csv_download(lambda: table, "users", key="adm_users_dl")
    if view.empty:
        return
    rows = [r for r in (event.selection.rows if event else []) if 0 <= r < len(view)]
    ids = view["user_id"].tolist()
    labels = dict(zip(ids, [f"{n} ({u})" for n, u in zip(table[tr("admin.name")], ids,
                                                            strict=True)], strict=True))
    pick = st.selectbox(tr("admin.pick_user"), ids, index=rows[0] if rows else 0,
                        format_func=labels.get, key="adm_pick")
    row = view.set_index("user_id").loc[pick]
    seen = _seen("user", pick, int(row["version"]))
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{tr('admin.edit_user')}**")
        got = _user_form(f"edit_{pick}_{seen}", row)
        if got is not None:
            try:
                done = admin.change_user(store, pick, by=user.user_id, expected_version=seen,
                                         **got)
            except (admin.AdminError, ConflictError, ValueError) as exc:
                _refused(exc, "user", pick)
            else:
                _forget("user", pick)
                widgets.flash(tr("admin.saved") if done else tr("admin.no_change"))
                st.rerun()
    with right:
        st.markdown(f"**{tr('admin.sign_in')}**")
        facts = pd.DataFrame({
            tr("admin.field"): [tr("admin.status"), tr("admin.has_password"),
                                tr("admin.locked_until"), tr("admin.last_sign_in"),
                                tr("admin.accounts")],
            tr("admin.value"): [
                tr("admin.status.active") if row["active"] else tr("admin.status.deactivated"),
                tr("label.yes") if row["has_password"] else tr("label.no"),
                A.moments(pd.Series([row["locked_until"]])).iloc[0],
                A.moments(pd.Series([row["last_sign_in"]])).iloc[0],
                f"{int(row['accounts']):,}"]})
        st.dataframe(facts, hide_index=True, width="stretch")
        b1, b2 = st.columns(2)
        if b1.button(tr("admin.reset"), key="adm_reset", disabled=not row["active"],
                     icon=":material/password:"):
            _ask("reset", uid=pick)
        if row["active"]:
            if b2.button(tr("admin.deactivate"), key="adm_deactivate",
                         disabled=pick == user.user_id, icon=":material/person_off:",
                         help=tr("admin.err.self") if pick == user.user_id else None):
                _ask("deactivate", uid=pick, version=seen, accounts=int(row["accounts"]))
        elif b2.button(tr("admin.activate"), key="adm_activate", icon=":material/person_check:"):
            try:
                admin.set_active(store, pick, True, by=user.user_id, expected_version=seen)
            except (admin.AdminError, ConflictError) as exc:
                _refused(exc, "user", pick)
            else:
                _forget("user", pick)
                widgets.flash(tr("admin.activated"))
                st.rerun()
        if not row["active"] and int(row["accounts"]):
            st.info(tr("admin.inactive_owns", n=f"{int(row['accounts']):,}"))


# -- teams ---------------------------------------------------------------------------------------
def _team_form(kind: str, row: pd.Series | None) -> dict | None:
    new = row is None
    leads = people[(people["role"] == "sales_lead") & people["active"]]
    lead_ids = ["", *leads["user_id"].tolist()]
    lead_names = dict(zip(leads["user_id"], _names(leads), strict=True))
    with st.form(f"adm_team_{kind}"):
        if new:
            tid = st.text_input(tr("admin.team_id"), key=f"adm_team_{kind}_id")
        c1, c2 = st.columns(2)
        name = c1.text_input(tr("admin.team_name"), value="" if new else str(row["name"]),
                             key=f"adm_team_{kind}_name")
        name_en = c2.text_input(tr("admin.name_en"), value="" if new or pd.isna(row["name_en"])
                                else str(row["name_en"]), key=f"adm_team_{kind}_name_en")
        c3, c4 = st.columns(2)
        lead_now = "" if new or pd.isna(row["lead_id"]) else str(row["lead_id"])
        lead = c3.selectbox(tr("admin.lead"), lead_ids,
                            index=lead_ids.index(lead_now) if lead_now in lead_ids else 0,
                            format_func=lambda u: f"{lead_names.get(u, u)} ({u})" if u else "–",
                            key=f"adm_team_{kind}_lead")
        city = c4.text_input(tr("admin.city"), value="" if new or pd.isna(row["city"])
                             else str(row["city"]), key=f"adm_team_{kind}_city")
        done = st.form_submit_button(tr("admin.create" if new else "admin.save"),
                                     type="primary", key=f"adm_team_{kind}_submit")
    if not done:
        return None
    out = {"name": name, "name_en": name_en, "lead_id": lead or None, "city": city}
    if new:
        out["team_id"] = tid
    return out


def _teams_tab() -> None:
    t = team_rows
    table = pd.DataFrame({
        tr("admin.team_id"): t["team_id"],
        tr("admin.team_name"): t["name" if zh else "name_en"].fillna(t["name"]),
        tr("admin.lead"): widgets.dash(t["lead_name" if zh else "lead_name_en"].fillna(
            t["lead_name"])),
        tr("admin.city"): widgets.dash(t["city"].map(
            lambda c: i18n.city(c, L) if isinstance(c, str) else None)),
        tr("admin.members"): t["members"],
        tr("admin.accounts"): t["accounts"],
        tr("admin.changed"): t["changed"].map({True: tr("label.yes"), False: ""}),
    })
    st.dataframe(widgets.capped(table), hide_index=True, width="stretch")
    with st.expander(tr("admin.create_team"), icon=":material/group_add:"):
        got = _team_form("new", None)
        if got is not None:
            try:
                admin.create_team(store, by=user.user_id, **got)
            except (admin.AdminError, ConflictError) as exc:
                st.error(A.error_text(exc), icon=":material/block:")
            else:
                widgets.flash(tr("admin.team_created"))
                st.rerun()
    if t.empty:
        return
    labels = dict(zip(t["team_id"], table[tr("admin.team_name")], strict=True))
    pick = st.selectbox(tr("admin.pick_team"), t["team_id"].tolist(),
                        format_func=lambda x: f"{labels.get(x, x)} ({x})", key="adm_team_pick")
    row = t.set_index("team_id").loc[pick]
    seen = _seen("team", pick, int(row["version"]))
    got = _team_form(f"edit_{pick}_{seen}", row)
    if got is not None:
        try:
            done = admin.change_team(store, pick, by=user.user_id, expected_version=seen, **got)
        except (admin.AdminError, ConflictError) as exc:
            _refused(exc, "team", pick)
        else:
            _forget("team", pick)
            widgets.flash(tr("admin.saved") if done else tr("admin.no_change"))
            st.rerun()


# -- move accounts ---------------------------------------------------------------------------
def _move(ids: list[str], src: str, dst: str) -> bool:
    try:
        admin.move_accounts(store, ids, dst, by=user.user_id, from_owner=src)
    except (admin.AdminError, ConflictError, ValueError) as exc:
        st.error(A.error_text(exc), icon=":material/block:")
        return False
    state.build_now()
    widgets.flash(tr("admin.moved", n=f"{len(ids):,}"))
    return True


@A.dialog(tr("admin.move_title"), on_dismiss=_close)
def _confirm_move(ids: list[str], src: str, dst: str, who: str) -> None:
    st.write(tr("admin.move_confirm", n=f"{len(ids):,}"))
    st.text(who)
    ok, _ = _answer_buttons(tr("admin.move"), "adm_move")
    if ok and _move(ids, src, dst):
        _close()
        st.rerun()


def _move_tab() -> None:
    st.caption(tr("admin.move_caption"))
    frame = state.analysis().frame
    live = features.live_accounts(frame, ["account_id", "name", "name_en", "owner_id",
                                          "industry", "city", "tier", "tier_basis",
                                          "value_score", "monthly_revenue"])
    owned = live["owner_id"].value_counts()
    who = people.set_index("user_id")
    owners_ = who[who.index.isin(owned.index)]
    if owners_.empty:
        st.info(tr("admin.move_none"))
        return
    names = _names(owners_).to_dict()
    order = owners_.assign(n=owned.reindex(owners_.index).to_numpy()).sort_values(
        ["active", "n"], ascending=[True, False]).index.tolist()  # deactivated owners first

    off = " · " + tr("admin.status.deactivated")
    owner_labels = {u: f"{names.get(u, u)} ({u}) · {int(owned[u]):,}"
                       + ("" if who.loc[u, "active"] else off) for u in order}
    c1, c2 = st.columns(2)
    src = c1.selectbox(tr("admin.move_from"), order, format_func=owner_labels.get,
                       key="adm_from")
    targets = people[(people["role"] == "account_manager") & people["active"]
                     & (people["user_id"] != src)]
    if targets.empty:
        st.warning(tr("owners.no_managers"))
        return
    # the owner's own team first, the least loaded first: the likely pick at the top
    same = (targets["team_id"] == who.loc[src, "team_id"]).to_numpy()
    load = targets["user_id"].map(owned).fillna(0).astype(int)
    targets = targets.assign(_other=~same, _load=load).sort_values(["_other", "_load"])
    t_names = {u: f"{n} ({u}) · {int(owned.get(u, 0)):,}"
               for u, n in zip(targets["user_id"], _names(targets), strict=True)}
    dst = c2.selectbox(tr("admin.move_to"), list(t_names), format_func=t_names.get,
                       key="adm_to")
    mine = live[(live["owner_id"] == src).to_numpy()]
    f = st.columns(3)
    cities = sorted(mine["city"].dropna().unique())
    inds = sorted(mine["industry"].dropna().unique())
    tiers = sorted(mine["tier"].dropna().unique())
    p_city = f[0].multiselect(tr("col.city"), cities, format_func=lambda x: i18n.city(x, L),
                              key="adm_mv_city", placeholder=tr("filter.any"))
    p_ind = f[1].multiselect(tr("col.industry"), inds,
                             format_func=lambda x: i18n.enum("industry", x, L),
                             key="adm_mv_ind", placeholder=tr("filter.any"))
    p_tier = f[2].multiselect(tr("col.tier"), tiers, key="adm_mv_tier",
                              placeholder=tr("filter.any"))
    keep = pd.Series(True, index=mine.index)
    if p_city:
        keep &= mine["city"].isin(p_city)
    if p_ind:
        keep &= mine["industry"].isin(p_ind)
    if p_tier:
        keep &= mine["tier"].isin(p_tier)
    shown = mine[keep.to_numpy()].sort_values("tier_basis", ascending=False, ignore_index=True)
    page = widgets.capped(shown)
    table = pd.DataFrame({
        tr("col.account_id"): page["account_id"].astype(str),
        tr("col.name"): (page["name"] if zh else page["name_en"].fillna(page["name"])
                         ).astype(str),
        tr("col.industry"): page["industry"].map(
            lambda x: i18n.enum("industry", x, L) if isinstance(x, str) else "–"),
        tr("col.city"): page["city"].map(lambda x: i18n.city(x, L) if isinstance(x, str)
                                         else "–"),
        tr("col.tier"): widgets.dash(page["tier"]),
        tr("col.value_score"): page["value_score"].round(1),
        tr("col.monthly_revenue"): page["monthly_revenue"],
    })
    key = widgets.selection_key("adm_move", page, ["account_id"])
    st.session_state["adm_move_key"] = key  # which table the ticks belong to (tests read it)
    event = st.dataframe(table, hide_index=True, width="stretch", height=360,
                         on_select="rerun", selection_mode="multi-row", key=key,
                         column_config={tr("col.monthly_revenue"): st.column_config.NumberColumn(
                             format="¥%,.0f")})
    st.caption(widgets.capped_note(len(shown))
               or tr("retention.shown_accounts", n=f"{len(shown):,}", total=f"{len(mine):,}"))
    rows = [r for r in (event.selection.rows if event else []) if 0 <= r < len(page)]
    chosen = page["account_id"].astype(str).iloc[rows].tolist()
    b1, b2 = st.columns(2)
    ids = None
    if b1.button(tr("admin.move_selected", n=len(chosen)), disabled=not chosen, type="primary",
                 key="adm_move_sel"):
        ids = chosen
    if b2.button(tr("admin.move_all", n=f"{len(shown):,}"), disabled=shown.empty,
                 key="adm_move_all"):
        ids = shown["account_id"].astype(str).tolist()
    if ids:
        if len(ids) == 1:
            if _move(ids, src, dst):
                st.rerun()
        else:
            _ask("move", ids=ids, src=src, dst=dst, who=t_names[dst])


if tabs[0].open:
    with tabs[0]:
        _users_tab()
if tabs[1].open:
    with tabs[1]:
        _teams_tab()
if tabs[2].open:
    with tabs[2]:
        _move_tab()

pending = st.session_state.get(_PENDING)
if pending:
    kind, kw = pending
    {"deactivate": _confirm_deactivate, "reset": _confirm_reset,
     "move": _confirm_move}[kind](**kw)
