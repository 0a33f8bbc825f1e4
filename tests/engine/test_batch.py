"""Batch upscaling through ``finescale upscale`` on a folder of real good, bad and system files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine.api import BatchEntry, BatchRequest, ModelChoice, UpscaleTarget
from engine.cli.batch import Reporter
from engine.cli.main import main
from engine.imaging.modes import NOTE_16BIT
from engine.pipelines.batch import run_batch
from engine.runtime.cancel import CancelToken, JobCancelled, UserFacingError
from engine.runtime.jobs import JobContext
from tests.batch_files import XMP, leftovers, make_batch_tree, sha256_tree

FAILED_REASONS = {
    "corrupt.png": "truncated or corrupt",
    "empty.jpg": "the file is empty",
    "notes.jpg": "not an image file",
}


def _run(request: BatchRequest) -> list:
    events: list = []
    run_batch(request, JobContext("t", CancelToken(), events.append, None))
    return events


@pytest.fixture
def tree(tmp_path):
    files = make_batch_tree(tmp_path / "photos")
    out = tmp_path / "out"
    out.mkdir()
    (out / "plain_x2.png").write_bytes(b"an output the user already has")
    return files, tmp_path / "photos", out


def test_folder_batch_outputs_metadata_failures_and_untouched_inputs(tree, capsys):
    files, photos, out = tree
    before = sha256_tree(photos)
    existing = (out / "plain_x2.png").read_bytes()

    status = main(
        ["upscale", str(photos), "--out", str(out), "--scale", "2", "--recursive", "--fast"]
    )

    err = capsys.readouterr().err
    assert status == 1  # some files failed
    assert sha256_tree(photos) == before
    assert (out / "plain_x2.png").read_bytes() == existing  # skipped, not overwritten
    assert "plain.png skipped: plain_x2.png already exists" in err
    for name, reason in FAILED_REASONS.items():
        assert f"failed: {name}: " in err and reason in err.split(f"failed: {name}: ")[1]
    for junk in ("Thumbs.db", ".DS_Store", "desktop.ini"):
        assert f"{junk}: " in err and f"failed: {junk}" not in err
    assert "6 files" not in err and "9 files" in err  # the three system files are not inputs
    assert "1 done" not in err and "5 done, 1 skipped, 3 failed" in err
    assert leftovers(out) == []

    with Image.open(out / "rotated_x2.jpg") as im:
        assert im.size == (60, 80)  # upright 30 × 40, doubled
        assert im.getexif().get(0x0112, 1) == 1
        assert im.getexif().get(0x010F) == "TestCam"
        assert im.getexif().get_ifd(0x8769)[0xA002] == 60
        with Image.open(files["rotated"]) as source:
            assert im.info["icc_profile"] == source.info["icc_profile"]
        assert XMP in im.info["xmp"]
        assert im.info["dpi"] == pytest.approx((600, 600), abs=1)
        pixels = np.asarray(im.convert("RGB")).astype(int)
        assert pixels[4:16, 4:16, 0].mean() > 180 and pixels[4:16, 4:16, 1].mean() < 80
        assert pixels[-16:, -16:, 0].mean() < 80  # the red corner is at the upright top-left
    with Image.open(out / "deep16_x2.png") as im:
        assert (im.size, im.mode) == ((64, 48), "RGB")
    with Image.open(out / "cmyk_x2.jpg") as im:
        assert (im.size, im.mode) == ((60, 40), "RGB")
    with Image.open(out / "nested" / "deeper" / "palette_x2.png") as im:
        assert (im.size, im.mode) == ((40, 32), "RGBA")  # GIF cannot be written: PNG
    with Image.open(out / "nested" / "alpha_x2.webp") as im:
        assert (im.size, im.mode) == ((52, 36), "RGBA")


def test_png_text_dpi_and_16bit_note(tmp_path):
    files = make_batch_tree(tmp_path / "in")
    events = _run(
        BatchRequest(
            inputs=(str(files["plain"]), str(files["deep16"])),
            output_dir=str(tmp_path / "out"),
            target=UpscaleTarget(scale=3),
            template="{folder}-{stem}-{w}x{h}",
        )
    )
    with Image.open(tmp_path / "out" / "in-plain-120x90.png") as im:
        assert im.text["Comment"] == "a test picture"
        assert im.info["dpi"] == pytest.approx((216, 216), abs=1)
        source = np.asarray(Image.open(files["plain"]).convert("RGB"))
        expected = np.asarray(Image.fromarray(source).resize((120, 90), Image.Resampling.LANCZOS))
        assert np.array_equal(np.asarray(im), expected)  # strips = one whole Lanczos resize
    done = [e for e in events if getattr(e, "state", "") == "done"]
    assert np.array_equal(done[0].after, expected[0:90, 0:120])  # 120 × 90: all of it
    assert np.array_equal(done[0].before, source)
    assert NOTE_16BIT in done[1].notes


def test_sizes_suffix_rule_and_explicit_entries(tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(np.zeros((50, 100, 3), np.uint8)).save(src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_x2.png").write_bytes(b"keep me")
    request = BatchRequest(
        inputs=(BatchEntry(str(src), "sub"), str(src)),
        output_dir=str(out),
        target=UpscaleTarget(scale=None, width=300),
        overwrite="suffix",
        format="tiff",
    )
    _run(request)
    with Image.open(out / "sub" / "a_x3.tif") as im:
        assert im.size == (300, 150)
    capped = BatchRequest(
        inputs=(str(src),), output_dir=str(out), target=UpscaleTarget(4, max_long_side=250),
        template="{name}_cap.{ext}",
    )  # fmt: skip
    _run(capped)
    with Image.open(out / "a_cap.png") as im:
        assert im.size == (250, 125)
    _run(BatchRequest(inputs=(str(src),), output_dir=str(out), target=UpscaleTarget(2),
                      overwrite="suffix"))  # fmt: skip
    assert (out / "a_x2.png").read_bytes() == b"keep me"
    assert Image.open(out / "a_x2_1.png").size == (200, 100)


def test_shards_split_and_a_rerun_redoes_nothing(tmp_path):
    files = make_batch_tree(tmp_path / "in")
    good = [files[k] for k in ("plain", "rotated", "deep16", "cmyk")]
    out = tmp_path / "out"
    for k in (1, 2):
        request = BatchRequest(inputs=tuple(map(str, good)), output_dir=str(out), shard=(k, 2))
        summary = _run(request)[-1]
        assert len(summary.done) == 2
    again = _run(BatchRequest(inputs=tuple(map(str, good)), output_dir=str(out)))[-1]
    assert again.done == () and len(again.skipped) == 4
    assert {reason for _, reason in again.skipped} == {"done in an earlier run"}


def test_cancel_within_a_file_leaves_nothing_and_the_rerun_redoes_it(tmp_path):
    src = tmp_path / "big.png"
    Image.fromarray(np.zeros((400, 600, 3), np.uint8)).save(src)
    token = CancelToken()
    events: list = []

    def emit(event):
        events.append(event)
        if getattr(event, "state", "") == "running" and event.fraction > 0:
            token.cancel()  # after the first strip

    request = BatchRequest(inputs=(str(src),), output_dir=str(tmp_path / "out"))
    with pytest.raises(JobCancelled):
        run_batch(request, JobContext("t", token, emit, None))
    assert list((tmp_path / "out").glob("*.png")) == [] and leftovers(tmp_path / "out") == []
    summary = _run(request)[-1]
    assert [o for _, o in summary.done] == [str(tmp_path / "out" / "big_x4.png")]


def test_bad_settings_are_refused_before_any_file(tmp_path):
    for bad in (
        {"template": "{name}_{nope}"},
        {"template": "../{name}"},
        {"shard": (3, 2)},
        {"target": UpscaleTarget(scale=None)},
    ):
        with pytest.raises(UserFacingError):
            _run(BatchRequest(inputs=(), output_dir=str(tmp_path), **bad))
    assert list(tmp_path.iterdir()) == []


def test_a_model_batch_runs_the_upscale_pipeline_with_per_window_progress(tmp_path):
    src = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), np.uint8)).save(src)
    request = BatchRequest(
        (str(src),), str(tmp_path / "o"), UpscaleTarget(2), model=ModelChoice(model_id="demo")
    )
    events: list = []
    from engine.store.cache import ModelCache

    run_batch(request, JobContext("t", CancelToken(), events.append, ModelCache()))
    fractions = [e.fraction for e in events if getattr(e, "state", "") == "running"]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert events[-1].done and Image.open(tmp_path / "o" / "small_x2.png").size == (96, 80)


def test_symlink_loops_and_broken_links_are_reported_not_fatal(tmp_path):
    root = tmp_path / "in"
    (root / "a").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "a" / "x.png")
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "gone.png").symlink_to(tmp_path / "missing.png")
    events = _run(BatchRequest(inputs=(str(root),), output_dir=str(tmp_path / "o"), recursive=True))
    planned, summary = events[0], events[-1]
    assert [e.source for e in planned.items] == [str(root / "a" / "x.png")]
    reasons = dict(planned.problems)
    assert "symbolic link loop" in reasons[str(root / "a" / "loop")]
    assert reasons[str(root / "gone.png")] == "a broken link"
    assert len(summary.done) == 1 and len(summary.failed) == 2  # reported, and the rest ran


def test_tiff_keeps_xmp_and_iptc_and_png_keeps_xmp(tmp_path):
    iptc = b"\x1c\x02\x00\x00\x02\x00\x04\x1c\x02\x50\x00\x04Anne"  # version + by-line
    src = tmp_path / "scan.tif"
    Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(
        src, tiffinfo={700: XMP, 33723: iptc}, dpi=(150, 150)
    )
    for fmt, name in (("same", "scan_x2.tif"), ("png", "scan_x2.png")):
        events = _run(
            BatchRequest(
                inputs=(str(src),), output_dir=str(tmp_path / fmt), target=UpscaleTarget(2),
                format=fmt,
            )
        )  # fmt: skip
        with Image.open(tmp_path / fmt / name) as im:
            assert im.size == (24, 20)
            assert im.info["dpi"] == pytest.approx((300, 300), abs=1)
            if fmt == "same":
                assert XMP in bytes(im.tag_v2[700])
                assert bytes(im.tag_v2[33723]) == iptc
            else:
                assert XMP.decode() in im.info["XML:com.adobe.xmp"]
                done = next(e for e in events if getattr(e, "state", "") == "done")
                assert any("IPTC" in note for note in done.notes)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_redrawn_bar_and_pipes_get_lines(tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(src)
    for stream, expect_bar in ((_Terminal(), True), (io.StringIO(), False)):
        reporter = Reporter(stream)
        out = tmp_path / f"out{expect_bar}"
        run_batch(
            BatchRequest((str(src),), str(out)), JobContext("t", CancelToken(), reporter, None)
        )
        reporter.print_summary()
        text = stream.getvalue()
        assert ("\r[" in text) is expect_bar
        assert "1/1 a.png -> " in text and "1 done, 0 skipped, 0 failed" in text


def test_a_folder_without_pictures_is_an_error(tmp_path, capsys):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "in" / "sub" / "x.png")
    status = main(["upscale", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--fast"])
    assert (
        status == 1
        and "No pictures found in the inputs (add --recursive" in capsys.readouterr().err
    )
