"""Dataset preparers on tiny fake trees in each official layout, subtitle parsing, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from glossfree.cli.data_commands import register
from glossfree.data.manifest import read_manifest
from glossfree.data.prepare import PREPARERS, prepare
from glossfree.data.prepare.common import CueFilter, plain_text, read_subtitles
from glossfree.errors import ConfigError, DataError

HEADER = "name|video|start|end|speaker|orth|translation"


def touch(path: Path, content: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def by_id(out: Path) -> dict[str, object]:
    return {record.id: record for record in read_manifest(out / "manifest.jsonl")}


def summary_json(out: Path) -> dict:
    return json.loads((out / "prepare_summary.json").read_text(encoding="utf-8"))


def test_preparers_registry() -> None:
    assert set(PREPARERS) == {"phoenix14t", "how2sign", "bobsl", "youtube_sl_25"}
    with pytest.raises(ConfigError, match="unknown dataset 'phoenix'; valid: phoenix14t, how2sign"):
        prepare("phoenix", "x", "y")


# ------------------------------------------------------------------------------- subtitles


def test_webvtt_parser(tmp_path: Path) -> None:
    vtt = tmp_path / "a.vtt"
    vtt.write_text(
        "\ufeffWEBVTT\nKind: captions\nLanguage: en\n\n"
        "NOTE a comment\nspanning lines\n\n"
        "1\n00:00:01.000 --> 00:00:02.500 align:start position:0%\nHello <i>there</i>\nfriend\n\n"
        "00:02.500 --> 00:04.000\nno hours &amp; no id\n\n"
        "cue-3\n01:00:00.000 --> 01:00:01.250\nlast\n",
        encoding="utf-8",
    )
    cues = read_subtitles(vtt)
    assert [(c.start, c.end) for c in cues] == [(1.0, 2.5), (2.5, 4.0), (3600.0, 3601.25)]
    assert cues[0].text == "Hello <i>there</i>\nfriend"
    assert plain_text(cues[0].text) == "Hello there friend"
    assert plain_text(cues[1].text) == "no hours & no id"


def test_srt_parser_and_errors(tmp_path: Path) -> None:
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nfirst\n\n2\n00:00:03,5 --> 00:00:04,000\nsecond\n")
    cues = read_subtitles(srt)
    assert [(c.start, c.end, c.text) for c in cues] == [(1.0, 2.0, "first"), (3.5, 4.0, "second")]

    bad = tmp_path / "bad.vtt"
    bad.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:xx.000\ntext\n")
    with pytest.raises(DataError, match=r"bad.vtt:3: not a WebVTT cue timing .*'00:00:01.000 --> 00:00:xx.000'"):
        read_subtitles(bad)
    headless = tmp_path / "headless.vtt"
    headless.write_text("00:00:01.000 --> 00:00:02.000\ntext\n")
    with pytest.raises(DataError, match="headless.vtt:1: a WebVTT file must start with 'WEBVTT'"):
        read_subtitles(headless)
    stray = tmp_path / "stray.srt"
    stray.write_text("1\n00:00:01,000 --> 00:00:02,000\nok\n\njust text\n")
    with pytest.raises(DataError, match="stray.srt:5: expected a cue number or 'hh:mm:ss,mmm --> hh:mm:ss,mmm', got 'just text'"):
        read_subtitles(stray)
    with pytest.raises(DataError, match="a.txt: unknown subtitle format 'txt'"):
        read_subtitles(touch(tmp_path / "a.txt"))


def test_cue_filter() -> None:
    keep = CueFilter(min_duration=1.0, max_duration=20.0, max_words=3)
    assert keep.reason(0.0, 2.0, "one two three") is None
    assert keep.reason(0.0, 0.5, "short") == "shorter than 1 s"
    assert keep.reason(0.0, 21.0, "long") == "longer than 20 s"
    assert keep.reason(0.0, 2.0, "one two three four") == "more than 3 words"
    assert keep.reason(2.0, 2.0, "x") == "non-positive duration"


# ------------------------------------------------------------------------------- PHOENIX14T


def phoenix_tree(root: Path) -> Path:
    base = root / "PHOENIX-2014-T"
    rows = {
        "train": [
            "trainA|trainA/1/*.png|-1|-1|Signer01|REGEN|es regnet",
            "trainB|trainB/1/*.png|-1|-1|Signer02|SONNE|die sonne scheint",  # frames under 1/
            "trainC|trainC/1/*.png|-1|-1|Signer03|WIND|es ist windig",  # no frames, no pose
            "trainD|trainD/1/*.png|-1|-1|Signer04|NEBEL|es ist neblig",  # no frames, has a pose
        ],
        "dev": ["devA|devA/1/*.png|-1|-1|Signer05|SCHNEE|es schneit"],
        "test": ["testA|testA/1/*.png|-1|-1|Signer01|HEISS|es wird heiss"],
    }
    frames = base / "features" / "fullFrame-210x260px"
    for split, lines in rows.items():
        touch(base / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv",
              "\n".join([HEADER, *lines]).encode())  # fmt: skip
        (frames / split).mkdir(parents=True)
    for split, name in [("train", "trainA"), ("dev", "devA"), ("test", "testA")]:
        touch(frames / split / name / "images0001.png")
    touch(frames / "train" / "trainB" / "1" / "images0001.png")
    touch(root / "poses" / "trainD.pose")
    touch(root / "poses" / "trainA.pose")
    return root


def test_phoenix14t(tmp_path: Path) -> None:
    root = phoenix_tree(tmp_path / "release")
    out = tmp_path / "prepared"
    summary = prepare("phoenix14t", root, out)
    assert summary.records_per_split == {"train": 3, "dev": 1, "test": 1}
    records = by_id(out)
    a = records["trainA"]
    assert (a.split, a.text, a.language, a.signer, a.gloss) == ("train", "es regnet", "de", "Signer01", "REGEN")
    assert a.video == "../release/PHOENIX-2014-T/features/fullFrame-210x260px/train/trainA"
    assert a.pose == "../release/poses/trainA.pose" and a.start is None
    assert (out / a.video).is_dir()  # relative to the manifest's folder
    assert records["trainB"].video.endswith("train/trainB/1")
    assert (records["trainD"].video, records["trainD"].pose) == (None, "../release/poses/trainD.pose")
    assert "trainC" not in records
    assert summary_json(out)["skipped"] == {"frame folder and pose missing": {"count": 1, "examples": ["trainC"]}}
    assert records["devA"].split == "dev" and records["testA"].split == "test"


def test_phoenix14t_layout_errors(tmp_path: Path) -> None:
    root = phoenix_tree(tmp_path / "release")
    (root / "PHOENIX-2014-T" / "annotations" / "manual" / "PHOENIX-2014-T.dev.corpus.csv").unlink()
    with pytest.raises(DataError, match=r"PHOENIX-2014-T.dev.corpus.csv: missing PHOENIX-2014-T corpus file"):
        prepare("phoenix14t", root, tmp_path / "out")
    summary = prepare("phoenix14t", root, tmp_path / "out", splits=["test"])  # a partial download
    assert summary.records_per_split == {"test": 1}
    corpus = root / "PHOENIX-2014-T" / "annotations" / "manual" / "PHOENIX-2014-T.test.corpus.csv"
    corpus.write_text("name,video,translation\nx,y,z\n")
    with pytest.raises(DataError, match=r"test.corpus.csv:1: missing column\(s\) \['name', 'video'"):
        prepare("phoenix14t", root, tmp_path / "out", splits=["test"])
    with pytest.raises(ConfigError, match=r"unknown split\(s\) \['val'\]; valid: train, dev, test"):
        prepare("phoenix14t", root, tmp_path / "out", splits=["val"])
    with pytest.raises(DataError, match="nowhere: phoenix14t release folder not found"):
        prepare("phoenix14t", tmp_path / "nowhere", tmp_path / "out")


# --------------------------------------------------------------------------------- How2Sign


H2S_HEADER = "VIDEO_ID\tVIDEO_NAME\tSENTENCE_ID\tSENTENCE_NAME\tSTART_REALIGNED\tEND_REALIGNED\tSENTENCE"


def h2s_row(video: str, number: int, sentence: str) -> str:
    name = f"{video}_{number}-5-rgb_front"
    return f"{video}\t{video}-5-rgb_front\t{video}_{number}\t{name}\t{number}.0\t{number + 2}.5\t{sentence}"


def how2sign_tree(root: Path) -> Path:
    splits = {
        "train": [h2s_row("--7E2sU6zP4", 10, "And I call them decorative elements."),
                  h2s_row("--7E2sU6zP4", 11, 'He said "hi" to me.'),
                  h2s_row("--7E2sU6zP4", 12, "Missing clip.")],
        "val": [h2s_row("-d5dN54tH2E", 0, "We're going to work on a arm drill.")],
        "test": [h2s_row("-fZc293MpJk", 3, "Hi."), h2s_row("-fZc293MpJk", 3, "Hi.")],  # repeated row
    }  # fmt: skip
    for split, rows in splits.items():
        touch(root / f"how2sign_realigned_{split}.csv", "\n".join([H2S_HEADER, *rows]).encode())
    for name in ("--7E2sU6zP4_10-5-rgb_front", "--7E2sU6zP4_11-5-rgb_front"):
        touch(root / "train_rgb_front_clips" / "raw_videos" / f"{name}.mp4")
    touch(root / "val_rgb_front_clips" / "raw_videos" / "-d5dN54tH2E_0-5-rgb_front.mp4")
    touch(root / "test_rgb_front_clips" / "-fZc293MpJk_3-5-rgb_front.mp4")  # unpacked without raw_videos/
    return root


def test_how2sign(tmp_path: Path) -> None:
    root = how2sign_tree(tmp_path / "h2s")
    summary = prepare("how2sign", root, root)  # manifest written into the release
    assert summary.records_per_split == {"train": 2, "dev": 1, "test": 1}
    records = by_id(root)
    first = records["--7E2sU6zP4_10-5-rgb_front"]
    assert (first.text, first.language, first.split) == ("And I call them decorative elements.", "en", "train")
    assert first.video == "train_rgb_front_clips/raw_videos/--7E2sU6zP4_10-5-rgb_front.mp4"
    assert first.start is None and first.end is None  # clips are already cut to the sentence
    assert records["--7E2sU6zP4_11-5-rgb_front"].text == 'He said "hi" to me.'
    assert records["-d5dN54tH2E_0-5-rgb_front"].split == "dev"
    assert records["-fZc293MpJk_3-5-rgb_front"].video == "test_rgb_front_clips/-fZc293MpJk_3-5-rgb_front.mp4"
    assert summary.skipped == {
        "clip and pose missing": ["--7E2sU6zP4_12-5-rgb_front"],
        "duplicate id": ["-fZc293MpJk_3-5-rgb_front"],
    }


def test_how2sign_layout_errors(tmp_path: Path) -> None:
    root = how2sign_tree(tmp_path / "h2s")
    (root / "how2sign_realigned_val.csv").unlink()
    with pytest.raises(DataError, match="missing How2Sign re-aligned translations of split 'val'"):
        prepare("how2sign", root, tmp_path / "out")
    (root / "how2sign_realigned_test.csv").write_text(H2S_HEADER.replace("\t", ",") + "\n")
    with pytest.raises(DataError, match="how2sign_realigned_test.csv:1: missing column.*tab-separated"):
        prepare("how2sign", root, tmp_path / "out", splits=["test"])
    (root / "how2sign_realigned_test.csv").unlink()
    with pytest.raises(DataError, match="how2sign_realigned_test.csv"):
        prepare("how2sign", root, tmp_path / "out", splits=["test"])


# ------------------------------------------------------------------------------------ BOBSL


def vtt(*cues: tuple[str, str, str]) -> bytes:
    blocks = [f"{i}\n{start} --> {end}\n{text}" for i, (start, end, text) in enumerate(cues, start=1)]
    return ("WEBVTT\n\n" + "\n\n".join(blocks) + "\n").encode()


def bobsl_tree(root: Path) -> Path:
    touch(root / "subset2episode.json",
          json.dumps({"train": ["5085344787448740525", "5088512497567145962"], "val": ["6170366926398537286"],
                      "test": ["6215087495787226226"]}).encode())  # fmt: skip
    for episode in ("5085344787448740525", "6170366926398537286", "6215087495787226226"):
        touch(root / "videos" / f"{episode}.mp4")
    audio = root / "subtitles" / "audio-aligned"
    touch(audio / "5085344787448740525.vtt", vtt(
        ("00:00:01.000", "00:00:03.000", "Good evening, and <i>welcome</i>"),
        ("00:00:03.000", "00:00:03.400", "Hi."),
        ("00:00:04.000", "00:00:30.000", "A very long subtitle."),
        ("00:00:31.000", "00:00:33.000", "<i></i>"),
    ))  # fmt: skip
    touch(audio / "5088512497567145962.vtt", vtt(("00:00:01.000", "00:00:02.000", "no video")))
    touch(audio / "6170366926398537286.vtt", vtt(("00:01:00.000", "00:01:02.000", "Fish &amp; chips\nfor tea")))
    touch(audio / "6215087495787226226.vtt", vtt(("00:00:05.000", "00:00:07.000", "The test.")))
    manual = root / "subtitles" / "manually-aligned"
    touch(manual / "6170366926398537286.vtt", vtt(("00:01:01.500", "00:01:04.000", "Fish & chips for tea")))
    touch(manual / "6215087495787226226.vtt", vtt(("00:00:06.000", "00:00:08.000", "The test.")))
    return root


def test_bobsl_audio_aligned(tmp_path: Path) -> None:
    root = bobsl_tree(tmp_path / "bobsl")
    out = tmp_path / "out"
    summary = prepare("bobsl", root, out, min_duration=1.0, max_duration=20.0)
    records = by_id(out)
    assert summary.records_per_split == {"train": 1, "dev": 1, "test": 1}
    first = records["5085344787448740525_00000"]
    assert (first.text, first.start, first.end, first.language) == ("Good evening, and welcome", 1.0, 3.0, "en")
    assert first.video == "../bobsl/videos/5085344787448740525.mp4"
    assert records["6170366926398537286_00000"].text == "Fish & chips for tea"
    assert (records["6170366926398537286_00000"].start, records["6170366926398537286_00000"].split) == (60.0, "dev")
    skipped = summary_json(out)["skipped"]
    assert skipped["shorter than 1 s"] == {"count": 1, "examples": ["5085344787448740525_00001"]}
    assert skipped["longer than 20 s"]["examples"] == ["5085344787448740525_00002"]
    assert skipped["empty text"]["examples"] == ["5085344787448740525_00003"]
    assert skipped["episode video and pose missing"]["examples"] == ["5088512497567145962"]


def test_bobsl_manual_alignment_and_options(tmp_path: Path) -> None:
    root = bobsl_tree(tmp_path / "bobsl")
    summary = prepare("bobsl", root, tmp_path / "out", alignment="manual")
    assert summary.records_per_split == {"dev": 1, "test": 1}  # train episodes have no manual alignment
    record = by_id(tmp_path / "out")["6170366926398537286_00000"]
    assert (record.start, record.end) == (61.5, 64.0)
    assert len(summary.skipped["no subtitles in manually-aligned"]) == 2
    summary = prepare("bobsl", root, tmp_path / "out", splits=["test"])
    assert summary.records_per_split == {"test": 1}
    with pytest.raises(ConfigError, match="unknown alignment 'sign'; valid: audio, audio-corrected, manual"):
        prepare("bobsl", root, tmp_path / "out", alignment="sign")
    with pytest.raises(DataError, match="signing_aligned_subtitles/auto_sat_aligned: missing BOBSL subtitle folder"):
        prepare("bobsl", root, tmp_path / "out", alignment="signing")
    with pytest.raises(ConfigError, match=r"split\(s\) \['val'\] not in"):
        prepare("bobsl", root, tmp_path / "out", splits=["val"])
    (root / "subset2episode.json").unlink()
    with pytest.raises(DataError, match="missing BOBSL split file subset2episode.json; looked for"):
        prepare("bobsl", root, tmp_path / "out")


# ---------------------------------------------------------------------------- YouTube-SL-25


def youtube_tree(root: Path) -> Path:
    touch(root / "youtube-sl-25-metadata.csv",
          b"abcdefghijk,ase\nbbbbbbbbbbb,bfi\nccccccccccc,gsg\nddddddddddd,ase\neeeeeeeeeee,ase\n")  # fmt: skip
    videos = root / "videos"
    touch(videos / "abcdefghijk.mp4")
    touch(videos / "abcdefghijk.en.vtt", vtt(
        ("00:00:01.000", "00:00:03.000", '<font color="#ffffff">Good morning</font> everyone'),
        ("00:00:03.000", "00:00:05.000", "[music]"),
        ("00:00:05.000", "00:00:08.000", "(laughter)"),
        ("00:00:08.000", "00:00:10.000", "JOHN: How are you ?"),
    ))  # fmt: skip
    touch(videos / "abcdefghijk.de.vtt", vtt(("00:00:01.000", "00:00:03.000", "Guten Morgen")))
    touch(videos / "bbbbbbbbbbb.webm")
    touch(videos / "bbbbbbbbbbb.en-GB.srt", b"1\n00:00:02,000 --> 00:00:04,000\nCheers &amp; thanks\n")
    touch(videos / "ccccccccccc.mp4")
    touch(videos / "ccccccccccc.de.vtt", vtt(("00:00:01.000", "00:00:03.000", "Hallo")))
    touch(videos / "eeeeeeeeeee.mp4")
    touch(videos / "eeeeeeeeeee.de.vtt", vtt(("00:00:01.000", "00:00:03.000", "Hallo")))
    return root


def test_youtube_sl_25(tmp_path: Path) -> None:
    root = youtube_tree(tmp_path / "ysl")
    out = tmp_path / "out"
    summary = prepare("youtube_sl_25", root, out, sign_languages=["ase", "bfi"])
    records = by_id(out)
    assert sorted(records) == ["abcdefghijk_00000", "abcdefghijk_00003", "bbbbbbbbbbb_00000"]
    first = records["abcdefghijk_00000"]
    assert (first.text, first.start, first.end, first.split) == ("Good morning everyone", 1.0, 3.0, "train")
    assert first.video == "../ysl/videos/abcdefghijk.mp4" and first.extra == {"sign_language": "ase"}
    assert records["abcdefghijk_00003"].text == "How are you?"
    british = records["bbbbbbbbbbb_00000"]
    assert (british.text, british.language, british.video) == ("Cheers & thanks", "en", "../ysl/videos/bbbbbbbbbbb.webm")
    assert summary.skipped["empty after cleaning"] == ["abcdefghijk_00001", "abcdefghijk_00002"]
    assert summary.skipped["video and pose missing (not downloaded?)"] == ["ddddddddddd"]
    assert summary.skipped["no caption track in en"] == ["eeeeeeeeeee"]
    assert summary.skipped["sign language not selected"] == ["ccccccccccc"]

    summary = prepare("youtube_sl_25", root, out, caption_languages=["de"], assign_split="pretrain")
    assert by_id(out)["ccccccccccc_00000"].language == "de"
    assert summary.records_per_split == {"pretrain": 3}


def test_youtube_sl_25_layout_errors(tmp_path: Path) -> None:
    root = youtube_tree(tmp_path / "ysl")
    (root / "youtube-sl-25-metadata.csv").write_text("video_id,language\nshort,ase\n")
    with pytest.raises(DataError, match="metadata.csv:2: 'short' is not a YouTube video id"):
        prepare("youtube_sl_25", root, tmp_path / "out")
    (root / "youtube-sl-25-metadata.csv").unlink()
    with pytest.raises(DataError, match="youtube-sl-25-metadata.csv: missing YouTube-SL-25 id list"):
        prepare("youtube_sl_25", root, tmp_path / "out")


def test_cli_prepare_non_utf8_metadata(tmp_path: Path) -> None:
    root = youtube_tree(tmp_path / "ysl")
    (root / "youtube-sl-25-metadata.csv").write_bytes(b"abcdefghijk,ase\nbbbbbbbbbbb,b\xe9f\n")  # Latin-1
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["prepare", "youtube_sl_25", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "youtube-sl-25-metadata.csv:2: the YouTube-SL-25 id list is not valid UTF-8 (byte 0xe9" in result.output
    assert "Traceback" not in result.output


# -------------------------------------------------------------------------------------- CLI


def test_cli_prepare(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    root = phoenix_tree(tmp_path / "release")
    result = runner.invoke(app, ["prepare", "phoenix14t", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "frame folder and pose missing" in result.output
    assert len(read_manifest(tmp_path / "out" / "manifest.jsonl")) == 5

    result = runner.invoke(app, ["prepare", "phoenix14t", str(root), "--out", str(tmp_path / "o"),
                                 "--alignment", "manual"])  # fmt: skip
    assert result.exit_code == 2 and "option(s) alignment do not apply" in result.output
    result = runner.invoke(app, ["prepare", "nope", str(root), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown dataset 'nope'" in result.output
    empty = how2sign_tree(tmp_path / "h2s")
    for clip in empty.rglob("*.mp4"):
        clip.unlink()
    result = runner.invoke(app, ["prepare", "how2sign", str(empty), "--out", str(tmp_path / "o"),
                                 "--split", "test"])  # fmt: skip
    assert result.exit_code == 2 and "no how2sign sample could be prepared" in result.output
