"""Everything `validate` checks for one loaded effect: probe its media, then run the lint rules.

The I/O half (probing files, loading the schema, the word list) lives here; the rules
themselves are pure (wanbuild.core.lint).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from wanbuild.config.load import LoadedEffect, display, load_hp_schema
from wanbuild.core.findings import Finding
from wanbuild.core.lint import LintInput, MediaKey, lint
from wanbuild.media.probe import probe_path, resolve_media
from wanbuild.spec.effect import Effect
from wanbuild.spec.kinds import MEDIA_KEYS
from wanbuild.spec.media import MediaFacts, MediaProblem, Probe
from wanbuild.store import Store
from wanbuild.store.hashcache import HashCache
from wanbuild.versioning.revisions import stale_media

# wordfreq's Zipf scale: 1.0 is about once per hundred million words.
_WORD_ZIPF = 1.0


@functools.cache
def is_english_word(token: str) -> bool:
    from wordfreq import zipf_frequency

    return bool(zipf_frequency(token, "en") > _WORD_ZIPF)


def _remembered_word(cache: HashCache, token: str) -> bool:
    """is_english_word, remembered in the hash cache: loading wordfreq's list costs more than
    the rest of a build's checks, and a trigger word is asked about on every build."""
    from importlib.metadata import version

    kind = f"wordfreq {version('wordfreq')} zipf>{_WORD_ZIPF}"
    known = cache.facts(f"word:{token}", kind)
    if known is not None:
        return bool(known["word"])
    word = is_english_word(token)
    cache.put_facts(f"word:{token}", kind, {"word": word})
    return word


def probe_media(effect: Effect, cache: HashCache) -> dict[MediaKey, Probe]:
    splits = (("train", effect.samples.train), ("validation", effect.samples.validation))
    wanted = [
        (split, i, key, media_type, rel)
        for split, items in splits
        for i, sample in enumerate(items)
        for key, media_type in MEDIA_KEYS.items()
        if (rel := getattr(sample, key)) is not None
    ]
    # a cold dataset is hashed on every core first; each probe below then finds its hash
    found = (resolve_media(effect.directory, w[4]) for w in wanted)
    cache.warm(p for p in found if not isinstance(p, MediaProblem))
    probes: dict[MediaKey, Probe] = {}
    for split, i, key, media_type, rel in wanted:
        compare = split == "train" and key in ("first_frame", "video")
        probes[(split, i, key)] = _probe(effect, rel, media_type, compare, cache)
    return probes


# Bumped when the probe learns more of a file (2: what a player shows, media.display): facts
# remembered by an older version are probed again.
FACTS_VERSION = 2


def _probe(effect: Effect, rel: str, media_type: str, compare: bool, cache: HashCache) -> Probe:
    where = resolve_media(effect.directory, rel)
    if isinstance(where, MediaProblem):
        return where
    sha = cache.sha256(where)
    kind = f"{media_type}:{int(compare)}:{FACTS_VERSION}"
    known = cache.facts(sha, kind)
    if known is not None:
        signature = known.pop("signature", None)
        return MediaFacts(**known, signature=tuple(signature) if signature else None)
    found = probe_path(where, media_type, signature=compare)
    if isinstance(found, MediaFacts):
        cache.put_facts(sha, kind, dataclasses.asdict(found))
    return found


@dataclass(frozen=True)
class Checked:
    findings: list[Finding]
    probes: dict[MediaKey, Probe]


def preflight(loaded: LoadedEffect, *, strict: bool = False, store: Store | None = None) -> Checked:
    effect = loaded.effect
    with (store or Store.for_project(loaded.project)).hash_cache() as cache:
        probes = probe_media(effect, cache)
        findings = lint(
            LintInput(
                effect=effect,
                effect_file=loaded.effect_file,
                samples_file=loaded.samples_file,
                hp_schema=load_hp_schema(loaded.conf_dir, effect.model),
                probes=probes,
                is_word=functools.partial(_remembered_word, cache),
                strict=strict,
            )
        )
    stale = stale_media(effect.directory, loaded.project)
    if stale:
        shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        findings.append(
            Finding(
                "warning",
                loaded.effect_file.replace("effect.yaml", "media"),
                "DVC",
                f"{shown} differ from the DVC record; a run now trains on data nobody can "
                "check out again",
                f"`dvc add {display(effect.directory / 'media')}`, commit the .dvc file, "
                "`dvc push`",
            )
        )
    return Checked(findings, probes)
