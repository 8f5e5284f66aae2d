"""Every tuning option of `forensics cluster`, with its default, in one place.

The CLI exposes these fields as options; run.json records the values actually used. None
of them is fitted to the simulator: each is a statement about what coordination looks like
(see docs/detection.md for the reasoning behind each default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ALL_VIEWS: tuple[str, ...] = ("prompt", "infra", "timing", "behaviour")
# behaviour is opt-in: an account has only a handful of behaviour tokens (a sign-up hour, a
# first day per model), too few for a Jaccard estimate to mean much; sharing one of them
# (everyone starts on the first day of the logs) links unrelated accounts.
DEFAULT_VIEWS: tuple[str, ...] = ("prompt", "infra", "timing")


@dataclass(frozen=True)
class ClusterParams:
    """Parameters of ring detection (views, MinHash/LSH, graph, communities, scoring)."""

    seed: int = 1
    views: tuple[str, ...] = DEFAULT_VIEWS
    min_ring_size: int = 5

    # --- views: which tokens an account gets -------------------------------------------
    # Prompts sampled per account for shingling (bounds cost; a curriculum repeats itself).
    prompts_per_account: int = 32
    prompt_chars: int = 400
    shingle_words: int = 3
    # Proxy pools recycle exits across accounts within hours; a NAT is stable all along.
    infra_bucket_hours: int = 6
    timing_bucket_minutes: int = 10
    # A token held by more than this share of the accounts in its view says nothing about
    # who works with whom (a common user agent, a popular /16, the diurnal peak): dropped.
    # Generous on purpose: a ring may be a tenth of the population, and tokens that are
    # merely popular are discounted by the null model (graph.ViewNull) anyway.
    max_token_share: float = 0.2
    # Accounts with fewer tokens than this in a view are not hashed in it (too little to
    # compare: two accounts with one token each are "identical" by chance).
    min_account_tokens: int = 3

    # --- signatures and LSH ------------------------------------------------------------
    num_perm: int = 128
    # 64 bands of 2 rows: a pair of Jaccard 0.1 is a candidate with probability 0.47, of
    # 0.2 with 0.93, of 0.01 (unrelated) with 0.006.
    lsh_bands: int = 64
    lsh_rows: int = 2
    # Each account is linked to at most this many bucket-mates per band: a ring of 10,000
    # accounts shares buckets, and all pairs would be quadratic.
    neighbours_per_bucket: int = 3

    # --- verification and graph --------------------------------------------------------
    # A pair's similarity in a view counts only above `null_factor` times what independent
    # accounts would share (graph.ViewNull), above what MinHash noise reaches by chance
    # with probability `edge_alpha` given the view's random-pair similarity
    # (graph.noise_floor), and above `min_similarity`.
    null_pairs: int = 20000
    null_factor: float = 3.0
    edge_alpha: float = 1e-6
    min_similarity: float = 0.02

    # --- communities --------------------------------------------------------------------
    # Leiden modularity resolution, per connected component. Low values keep one sparse
    # ring whole; two groups joined by a few weak edges still split (docs/detection.md).
    resolution: float = 0.5
    # A community that is not reported is split again at twice the resolution, this many
    # times (pipeline._rings_at_resolutions): a small ring inside a loose crowd stands out.
    refine_depth: int = 2
    # ... and a part carved out that way needs two views, each this many times view_lift.
    carved_lift_factor: float = 2.0
    # A reported ring is split at twice the resolution when its parts are distinct
    # operators: pairs across parts less alike than this share of pairs within parts.
    split_ratio: float = 0.5

    # --- scoring against the population -----------------------------------------------
    # A view supports a ring when member pairs are this many times as alike as the null
    # model expects (scoring.py), with at least this mean similarity.
    view_lift: float = 4.0
    min_view_similarity: float = 0.003
    # ... and when member pairs share at least this many of the view's tokens on average
    # (a Jaccard of 0.2 between two accounts of three requests is one shared hour).
    min_shared_tokens: float = 2.0
    # A fleet-wide switch to a newly released model (scoring.switch_evidence) supports a
    # ring when this share of member pairs switched in the same 24 hours (about 30% of
    # the members together) at `switch_lift` times the population's rate: twice
    # view_lift, because it is one value per account (one coincidence), not a set of
    # tokens, and the population's rate includes the fleets themselves.
    min_switch_share: float = 0.1
    switch_lift: float = 8.0
    # The prompt view alone must be much stronger; other views never count alone.
    single_view_lift: float = 10.0
    # Prompts count only when the ring asks at least this many distinct prompts per member
    # (a test suite repeats a small fixed set; a harvest keeps asking new things, even if
    # it samples several answers per question).
    min_prompts_per_member: float = 10.0
    # A ring with this share of its requests from its top 4 /24s is one site (NAT, campus,
    # office, venue): shared infrastructure and hours are explained, only prompts count.
    site_share: float = 0.5
    # A ring with this share of members in one declared organisation is that organisation.
    org_explained_share: float = 0.6
    ring_pairs_sampled: int = 4000
    min_score: float = 0.5
    # A member stays in its ring only with this share of its graph weight inside it ...
    min_member_affinity: float = 0.5
    # ... and if, against this many random fellow members, its own lift reaches this in
    # (two of) the ring's supporting views.
    member_pairs: int = 24
    member_lift: float = 2.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["views"] = list(self.views)
        return out
