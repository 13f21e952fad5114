"""Bundling: the product graph, family coverage, cross-sell opportunities and whitespace."""

import pandas as pd
import streamlit as st

from ui import ranking, state, widgets
from ui.nav import require_page
from ui.session import current_user, labeller, lang, tr
from valuation import bundling, charts, i18n
from valuation.bundling import FAMILIES
from valuation.schema import enum_label

require_page(__file__)  # the role check of ui/nav.py PAGES, not only the navigation's
user = current_user()
frame = state.scoped_frame(user)
live = frame[~frame["churned"].astype(bool)]
b = state.bundle()
L = lang()
zh = L == "zh"

st.title(tr("bundle.title"))
st.caption(tr("portfolio.caption", as_of=frame.attrs["as_of"], scope=tr(f"scope.{user.role}")))
m = b.metrics[b.metrics["account_id"].isin(live["account_id"])]
recs = b.recommendations[b.recommendations["account_id"].isin(live["account_id"])]
k = st.columns(4)
k[0].metric(tr("bundle.avg_families"), f"{m['families_covered'].mean():.2f} / 4")
k[1].metric(tr("bundle.all_four"), widgets.pct(float((m["families_covered"] == 4).mean())))
k[2].metric(tr("bundle.avg_switching"), f"{m['switching_cost'].mean():.1f}",
            help=tr("bundle.switching_help"))
k[3].metric(tr("bundle.cross_sell_value"),
            widgets.money(float(recs.loc[recs["rank"] == 1, "expected_revenue"].sum())),
            help=tr("bundle.cross_sell_help"))

# The product graph: each product's strongest pairs only, around a family or a product if
# the reader picks one, on a ring whose labels run outward and never overlap.
nodes, edges = bundling.graph_frames(b.graph, min_lift=1.0)
fam_label = {f: enum_label("family", f, L) for f in FAMILIES}
prod_label = dict(zip(nodes["product_id"], nodes["name"] if zh else
                      nodes["name_en"].fillna(nodes["name"]), strict=True))
prod_family = dict(zip(nodes["product_id"], nodes["family"], strict=True))
order = nodes.assign(_f=nodes["family"].map({f: i for i, f in enumerate(FAMILIES)}))
centres = ["", *(f"family:{f}" for f in FAMILIES if f in set(nodes["family"])),
           *order.sort_values(["_f", "provider", "product_id"])["product_id"].tolist()]


def centre_label(c: str) -> str:
    if not c:
        return tr("pf.graph.whole")
    if c.startswith("family:"):
        return tr("pf.graph.family", name=fam_label[c.removeprefix("family:")])
    return f"{prod_label.get(c, c)} · {fam_label.get(prod_family.get(c), '')}"


c1, c2, c3 = st.columns([2, 1, 1])
centre_labels = {c: centre_label(c) for c in centres}  # looked up now, in the reader's language
centre = c1.selectbox(tr("pf.graph.centre"), centres, format_func=centre_labels.get,
                      key=widgets.keep_choice("bd_centre", ""))
top_k = c2.slider(tr("pf.graph.top_k"), 1, 8, 2, key="bd_topk", help=tr("pf.graph.top_k_help"))
min_lift = c3.slider(tr("bundle.min_lift"), 1.0, 3.0, 1.3, 0.1, key="bd_lift")
if centre and centre.startswith("family:"):
    focus = nodes.loc[nodes["family"] == centre.removeprefix("family:"), "product_id"].tolist()
else:
    focus = [centre] if centre else []
strong = edges[(edges["kind"] != "co_holding") | (edges["lift"] >= min_lift)]
v_nodes, v_edges, total = bundling.graph_view(nodes, strong, top_k=top_k, centre=focus)
pairs = v_edges[v_edges["kind"] == "co_holding"]
g_left, g_right = st.columns([7, 4])
g_left.altair_chart(charts.product_graph_chart(v_nodes, v_edges, L, ink=widgets.ink(), square=580),
                    width="content")
with g_right:
    st.caption(tr("pf.graph.caption", shown=len(pairs), total=total, lift=f"{min_lift:.1f}",
                  k=top_k))
    if pairs.empty:
        st.info(tr("pf.graph.none"))
    else:
        st.markdown(f"**{tr('pf.graph.pairs')}**")
        st.dataframe(pd.DataFrame({  # the lift first: the names may run past the column
            tr("pf.graph.lift"): pairs["lift"].round(2),
            tr("pf.graph.product_a"): pairs["source"].map(prod_label),
            tr("pf.graph.product_b"): pairs["target"].map(prod_label),
            tr("pf.graph.accounts"): pairs["count"].astype(int),
        }), hide_index=True, width="stretch", height=min(38 + 35 * len(pairs), 480),
            column_config={tr("pf.graph.lift"): st.column_config.NumberColumn(
                format="%.2f", width="small")})

segments = ["industry", "tier", "city"]
seg = st.segmented_control(tr("bundle.segment"), segments, key=widgets.keep_choice(
    "bd_seg", "industry"), format_func=labeller("col.", segments)) or "industry"
label = {"industry": lambda x: enum_label("industry", x, L), "city": lambda x: i18n.city(x, L),
         "tier": str}[seg]
unknown = tr("label.unknown")


def label_or_unknown(x: object) -> str:
    return label(x) if isinstance(x, str) and x else unknown



fam = bundling.whitespace(b.holdings, b.products, live, by=seg, level="family", graph=b.graph)
st.altair_chart(charts.coverage_heatmap(fam, seg, L, labeller=label_or_unknown),
                width="stretch")

st.subheader(tr("bundle.cross_sell"))
with st.expander(tr("bundle.ranking"), icon=":material/leaderboard:"):
    ranking.ranking_view(b, user, state.store(), state.analysis().settings)
names = live.set_index("account_id")["name" if zh else "name_en"]
pname = b.products.set_index("product_id")["name" if zh else "name_en"]
top = recs[recs["rank"] == 1].sort_values("expected_revenue", ascending=False).head(300)
table = pd.DataFrame({
    tr("col.account_id"): top["account_id"],
    tr("col.name"): top["account_id"].map(names),
    tr("col.product"): top["product_id"].map(pname),
    tr("bundle.reason"): top["reason_code"].map(
        lambda r: bundling.REASONS[r][1 if zh else 0]),
    tr("bundle.evidence"): top["evidence"].round(3),
    tr("bundle.loyalty_gain"): top["loyalty_gain"].round(1),
    tr("bundle.expected_revenue"): top["expected_revenue"].round(0),
})
event = st.dataframe(table, hide_index=True, width="stretch", height=320, on_select="rerun",
                     selection_mode="single-row", key="bd_recs",
                     column_config={tr("bundle.expected_revenue"): st.column_config.NumberColumn(
                         format="¥%,.0f")})
if event is not None and event.selection.rows:
    widgets.open_account(str(top.iloc[event.selection.rows[0]]["account_id"]))
widgets.csv_download(table, "cross-sell", key="bd_recs_dl")

st.subheader(tr("bundle.whitespace"))
st.caption(tr("bundle.whitespace_help"))
ws = bundling.whitespace(b.holdings, b.products, live, by=seg, level="product", graph=b.graph)
ws = ws.sort_values("opportunity", ascending=False).head(40)
st.dataframe(pd.DataFrame({
    tr(f"col.{seg}"): ws[seg].map(label_or_unknown),
    tr("col.product"): ws["product_id"].map(pname),
    tr("col.family"): ws["family"].map(lambda f: enum_label("family", f, L)),
    tr("bundle.open_accounts"): ws["open"],
    tr("bundle.competitor_accounts"): ws["competitor"],
    tr("bundle.ours_accounts"): ws["ours"],
    tr("bundle.opportunity"): ws["opportunity"].round(0),
}), hide_index=True, width="stretch", height=360,
    column_config={tr("bundle.opportunity"): st.column_config.NumberColumn(format="¥%,.0f")})
