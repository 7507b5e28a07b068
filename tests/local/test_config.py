from devcapsules.local.config import load_config, read_dev_vars
from tests.support.bindings import ROOT


def test_reads_bindings_and_consumers_from_wrangler_toml():
    config = load_config(ROOT, environ={})
    assert config.producers == {"GENERATION_QUEUE": "generation-jobs"}
    jobs = next(c for c in config.consumers if c.queue == "generation-jobs")
    assert (jobs.max_batch_size, jobs.max_retries, jobs.dead_letter_queue) == (
        10,
        3,
        "generation-dlq",
    )
    assert config.vars["ENVIRONMENT"] == "development"
    assert config.migrations_dir == ROOT / "migrations"


def test_environment_sections_repeat_every_binding():
    for environment in ("staging", "production"):
        config = load_config(ROOT, environment, environ={})
        assert config.vars["ENVIRONMENT"] == environment
        assert "GENERATION_QUEUE" in config.producers
        assert len(config.consumers) == 2
        assert config.crons


def test_dev_vars_and_environment_override_toml(tmp_path):
    (tmp_path / "wrangler.toml").write_text('[vars]\nENVIRONMENT = "development"\nA = "1"\n')
    (tmp_path / ".dev.vars").write_text('# secrets\nJWT_SECRET="from-file"\nA=2\n')
    config = load_config(tmp_path, environ={"LOG_LEVEL": "debug", "HOME": "/x"})
    assert config.vars == {
        "ENVIRONMENT": "development",
        "A": "2",
        "JWT_SECRET": "from-file",
        "LOG_LEVEL": "debug",
    }


def test_dev_vars_parser_handles_quotes_and_equals(tmp_path):
    path = tmp_path / ".dev.vars"
    path.write_text("KEY='a=b'\n\nEMPTY=\nnot a line\n")
    assert read_dev_vars(path) == {"KEY": "a=b", "EMPTY": ""}
