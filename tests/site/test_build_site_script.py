"""build_site.py's options in-process through main(); tests/site/test_build.py runs it as a process."""

from niftybaskets.cli.build_site import main


def build(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    said = capsys.readouterr()
    return status, said.out, said.err


def test_docs_and_out_name_the_sources_and_the_site(sample, tmp_path, capsys):
    out = tmp_path / "elsewhere" / "site"
    status, said, _ = build(capsys, "--docs", str(sample.docs), "--out", str(out))
    assert status == 0 and said == f"Built 4 pages into {out}\n"
    assert (out / "index.html").is_file() and (out / "baskets" / f"{sample.latest.stem}.html").is_file()


def test_the_defaults_are_docs_and_site_in_the_folder_it_runs_from(sample, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(sample.docs.parent)
    status, said, _ = build(capsys)
    assert status == 0 and said == "Built 4 pages into _site\n"
    assert (tmp_path / "_site" / "index.html").is_file()


def test_a_docs_folder_without_its_index_exits_2_saying_where_to_run_from(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    status, _, err = build(capsys, "--docs", str(tmp_path / "docs"), "--out", str(tmp_path / "_site"))
    assert status == 2 and err == f"error: {tmp_path / 'docs'}/index.md is missing; run from the repository's root\n"
    assert not (tmp_path / "_site").exists()


def test_a_site_inside_its_sources_exits_2_deleting_nothing(sample, capsys):
    before = sorted(sample.docs.rglob("*"))
    status, _, err = build(capsys, "--docs", str(sample.docs), "--out", str(sample.docs / "_site"))
    assert status == 2 and err.startswith("error: build the site outside")
    assert sorted(sample.docs.rglob("*")) == before


def test_help_has_an_example_and_the_exit_codes(capsys):
    status, said, _ = build(capsys, "--help")
    assert status == 0
    assert "python3 scripts/build_site.py" in said and "exit codes: 0 done" in said
    assert "--docs" in said and "--out" in said
