"""The command line: inferd --help, inferd version, and serve's flag errors."""

import re
import subprocess

from conftest import free_port, get


def run(inferd_bin, *args, timeout=20):
    p = subprocess.run([inferd_bin, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def test_help(inferd_bin):
    rc, out = run(inferd_bin, "--help")
    assert rc == 0, out
    for word in ("serve", "version"):
        assert word in out, "inferd --help does not mention %s:\n%s" % (word, out)


def test_serve_help(inferd_bin):
    rc, out = run(inferd_bin, "serve", "--help")
    assert rc == 0, out
    for word in ("--model-repository", "--http-port", "--max-request-bytes", "--log-verbose"):
        assert word in out, "inferd serve --help does not mention %s:\n%s" % (word, out)


def test_version(inferd_bin):
    rc, out = run(inferd_bin, "version")
    assert rc == 0, out
    assert re.search(r"\d+\.\d+\.\d+", out), out


def test_serve_without_repository_fails_clearly(inferd_bin):
    rc, out = run(inferd_bin, "serve")
    assert rc != 0
    assert "--model-repository" in out, out


def test_serve_with_missing_repository_fails_clearly(inferd_bin, tmp_path):
    missing = str(tmp_path / "no-such-repository")
    rc, out = run(inferd_bin, "serve", "--model-repository", missing, "--http-port", str(free_port()))
    assert rc != 0
    assert "no-such-repository" in out, out


def test_unknown_flag_fails_clearly(inferd_bin, tmp_path):
    rc, out = run(inferd_bin, "serve", "--model-repository", str(tmp_path), "--no-such-flag")
    assert rc != 0
    assert "--no-such-flag" in out, out


def test_unknown_command_fails_clearly(inferd_bin):
    rc, out = run(inferd_bin, "frobnicate")
    assert rc != 0
    assert "frobnicate" in out, out


def test_bad_port_fails_clearly(inferd_bin, tmp_path):
    rc, out = run(inferd_bin, "serve", "--model-repository", str(tmp_path), "--http-port", "notaport")
    assert rc != 0
    assert "notaport" in out or "--http-port" in out, out


def test_log_verbose_and_max_request_bytes_are_accepted(start_server, tmp_path):
    import models
    repo = models.make_repo(tmp_path / "repo", ["add"])
    s = start_server(repo, "--log-verbose", "1", "--max-request-bytes", "100000", name="verbose")
    assert get(s, "/v2/health/ready").status == 200


def test_empty_repository_serves(start_server, tmp_path):
    """A repository with no models is valid: live and ready, nothing to infer."""
    (tmp_path / "empty").mkdir()
    s = start_server(str(tmp_path / "empty"), name="empty")
    assert get(s, "/v2/health/live").status == 200
    assert get(s, "/v2/health/ready").status == 200
    assert get(s, "/v2/models/digits").status == 404


def _openmp_env(server):
    with open("/proc/%d/environ" % server.proc.pid, "rb") as f:
        env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
    return {k.decode(): env[k].decode() for k in (b"OMP_WAIT_POLICY", b"GOMP_SPINCOUNT") if k in env}


def test_openmp_spins_briefly_by_default(start_server, tmp_path, monkeypatch):
    """inferd re-executes itself with a short OpenMP spin (src/cli/omp_env.h):
    the active policy keeps libgomp from cutting it when the process holds
    more OpenMP threads than CPUs."""
    import models
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    s = start_server(models.make_repo(tmp_path / "repo", ["add"]), name="omp-default")
    assert _openmp_env(s) == {"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": "1000"}


def test_openmp_settings_of_the_user_win(start_server, tmp_path, monkeypatch):
    import models
    repo = models.make_repo(tmp_path / "repo", ["add"])
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    s = start_server(repo, name="omp-passive")
    assert _openmp_env(s) == {"OMP_WAIT_POLICY": "passive"}
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GOMP_SPINCOUNT", "5")
    s = start_server(repo, name="omp-spin")
    assert _openmp_env(s) == {"GOMP_SPINCOUNT": "5"}
