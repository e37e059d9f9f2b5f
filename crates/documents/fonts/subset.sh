#!/usr/bin/env bash
# Makes the two fonts embedded in caseledger-documents: Noto Serif CJK SC Regular and Bold (SIL
# OFL 1.1, see LICENSE-OFL.txt), cut down to the characters a supervision letter needs. README.md
# beside this script says which characters, why, and what happens to the others.
#
#   apt-get install fonts-noto-cjk unicode-data && pip install fonttools
#   crates/documents/fonts/subset.sh            # writes beside this script
#
# Inputs, as used for the files committed here (the script prints the hashes again at the end;
# other versions make other bytes):
#   fonts-noto-cjk 1:20220127+repack1-1 (Debian 12), Noto Serif CJK 2.001
#     NotoSerifCJK-Regular.ttc  sha256 a04178ec485dffdff7cc0c0c20e1fce9202d7e2160d805e8e44a4c8841c58481
#     NotoSerifCJK-Bold.ttc     sha256 a5d4b046c127da3d7c72f98b46c41489cd29bf52abfdf18aba920903e920d4ac
#   unicode-data 15.0.0-1 (Debian 12), Unihan 15.0.0
#     Unihan_OtherMappings.txt.bz2  sha256 bdeef44d75d914e793b7f27ddc3bee01b2d11dd34f4e52de1a9fba74a1612dc2
#   fonttools 4.68.0
#
# The output is the same bytes on every run with the same inputs: pyftsubset keeps the source
# font's head.modified (no --recalc-timestamp), and the character list is sorted.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
font_dir="${NOTO_CJK_DIR:-/usr/share/fonts/opentype/noto}"
unihan="${UNIHAN_OTHER_MAPPINGS:-/usr/share/unicode/Unihan_OtherMappings.txt.bz2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The character set (9,054 characters with the inputs above):
# - GB 2312: every two-byte code from A1A1 to F7FE that Python's codec knows (6,763 hanzi and
#   682 symbols);
# - the 8,105 hanzi of the Table of General Standard Chinese Characters (通用规范汉字表, 2013),
#   read from Unihan's kTGH field: 1,467 of them are not in GB 2312, many of them used in
#   personal names (堃, 喆, 珺, 昇 and so on);
# - printable ASCII, the no-break space, the em dash (the page numbers' 一字线), the middle dot
#   of transcribed names, the ellipsis and ￥;
# - the CJK Symbols and Punctuation block (U+3000–U+303F: 、。〈〉《》「」『』【】〔〕〖〗…) and
#   the full-width forms (U+FF01–U+FF5E: ，：；！？（）％ and the full-width digits and letters).
python3 - "$unihan" "$work/characters.txt" <<'PY'
import bz2
import sys

unihan, output = sys.argv[1], sys.argv[2]
characters = set()
for high in range(0xA1, 0xF8):
    for low in range(0xA1, 0xFF):
        try:
            characters.add(bytes([high, low]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
general_standard = set()
with bz2.open(unihan, "rt", encoding="utf-8") as lines:
    for line in lines:
        if line.startswith("U+"):
            code_point, field, _ = line.rstrip("\n").split("\t", 2)
            if field == "kTGH":
                general_standard.add(chr(int(code_point[2:], 16)))
if len(general_standard) != 8105:
    sys.exit(f"{unihan}: {len(general_standard)} kTGH characters, expected 8105")
characters |= general_standard
characters.update(chr(c) for c in range(0x20, 0x7F))
characters.update("\u00a0\u2014\u00b7\u2026\uffe5")
characters.update(chr(c) for c in range(0x3000, 0x3040))
characters.update(chr(c) for c in range(0xFF01, 0xFF5F))
with open(output, "w", encoding="utf-8") as out:
    out.write("".join(sorted(characters)))
print(f"{len(characters)} characters", file=sys.stderr)
PY

# Face 2 of Debian's collections is the Simplified Chinese one ("Noto Serif CJK SC").
# --layout-features: only what horizontal text uses. pyftsubset's default list keeps 'locl',
#   whose closure pulls in the Japanese, Korean and traditional forms of thousands of hanzi and
#   nearly doubles the glyph count; the letters are set in zh-CN, where the SC face's default
#   forms are the right ones. Vertical forms go too: the letters are set horizontally.
# --no-hinting: the CFF hints are a sixth of the file and matter only when rasterising small
#   sizes on screen; the letters are 14–22 pt, printed, and viewers hint on their own.
# --name-IDs='*': keep the copyright, licence and licence URL in the font itself, as the OFL asks.
# --notdef-outline: a character outside every font prints as a visible box, never as nothing
#   (and the typesetter refuses such a letter, see README.md).
for weight in Regular Bold; do
    pyftsubset "$font_dir/NotoSerifCJK-$weight.ttc" --font-number=2 \
        --text-file="$work/characters.txt" \
        --layout-features='ccmp,kern,liga,halt,palt' --no-hinting \
        --name-IDs='*' --notdef-outline \
        --output-file="$here/NotoSerifCJKsc-$weight.subset.otf"
done
python3 -c "import fontTools; print('fontTools', fontTools.version)"
dpkg-query -W fonts-noto-cjk unicode-data 2>/dev/null || true
sha256sum "$font_dir"/NotoSerifCJK-{Regular,Bold}.ttc "$unihan" "$here"/NotoSerifCJKsc-*.subset.otf
ls -l "$here"/NotoSerifCJKsc-*.subset.otf
