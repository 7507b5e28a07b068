import os

import pytest

from devcapsules.executor.runner import SourceTooLarge, execute
from devcapsules.executor.sandbox import StdinTooLarge

from .conftest import require_language, run

pytestmark = [pytest.mark.usefixtures("sandbox"), pytest.mark.slow]


def test_seed_hello_world():
    result = run(execute("print('Hello World')", "python", time_limit_s=2))
    assert result.status == "ok"
    assert result.stdout == "Hello World\n"
    assert result.exit_code == 0 and result.signal is None
    assert result.memory_kb > 1000  # the launcher measured the real process
    assert result.language == "python"


def test_stdin_reaches_the_program():
    code = "import sys; print(sum(int(x) for x in sys.stdin.read().split()))"
    result = run(execute(code, "py", stdin="1 2 3\n4"))
    assert result.stdout == "10\n"


def test_runtime_errors_keep_exit_code_and_stderr():
    result = run(execute("import sys\nprint('partial')\n1/0", "python"))
    assert result.status == "runtime_error"
    assert result.exit_code == 1
    assert "ZeroDivisionError" in result.stderr
    assert result.stdout == "partial\n"
    assert run(execute("raise SystemExit(3)", "python")).exit_code == 3


def test_unicode_round_trips():
    result = run(execute("print('héllo ✓ 日本 🎉')", "python"))
    assert result.stdout == "héllo ✓ 日本 🎉\n"


def test_invalid_utf8_output_is_replaced_not_fatal():
    code = "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe!')"
    result = run(execute(code, "python"))
    assert result.status == "ok"
    assert result.stdout == "ok\ufffd\ufffd!"


def test_huge_stdin_is_refused_before_running():
    with pytest.raises(StdinTooLarge):
        run(execute("print(1)", "python", stdin="x" * (2 * 1024 * 1024)))


def test_huge_source_is_refused():
    with pytest.raises(SourceTooLarge):
        run(execute("#" * (300 * 1024), "python"))


def test_javascript_hello_world():
    result = run(execute("console.log('Hello World', 1 + 1)", "javascript"))
    assert (result.status, result.stdout) == ("ok", "Hello World 2\n")


def test_c_hello_compile_error_and_segfault():
    require_language("c")
    hello = run(execute('#include <stdio.h>\nint main(){puts("Hello World");}', "c"))
    assert (hello.status, hello.stdout) == ("ok", "Hello World\n")
    broken = run(execute("int main( { return 0; }", "c"))
    assert broken.status == "compile_error"
    assert "error" in broken.compile_output
    assert broken.stdout == ""
    crash = run(execute("int main(){ volatile int *p = 0; return *p; }", "c"))
    assert crash.status == "runtime_error"
    assert crash.signal == 11


def test_cpp_hello():
    require_language("cpp")
    code = (
        '#include <iostream>\nint main(){ std::string s; std::cin >> s; std::cout << s << "!\\n"; }'
    )
    result = run(execute(code, "c++", stdin="hey"))
    assert (result.status, result.stdout) == ("ok", "hey!\n")


def test_java_hello():
    require_language("java")
    code = (
        "public class Main { public static void main(String[] a) {"
        ' System.out.println("Hello World"); } }'
    )
    result = run(execute(code, "java", time_limit_s=5))
    assert (result.status, result.stdout) == ("ok", "Hello World\n")


def test_rust_hello():
    require_language("rust")
    result = run(execute('fn main() { println!("Hello World"); }', "rust", time_limit_s=5))
    assert (result.status, result.stdout) == ("ok", "Hello World\n")


def test_a_sandbox_that_cannot_start_is_an_error_not_a_user_failure(tmp_path):
    from devcapsules.executor.sandbox import SandboxLimits, SandboxSetupError, run_sandboxed

    if os.geteuid() != 0:
        pytest.skip("only root drops to another uid for the sandbox")
    unreadable = tmp_path / "private"
    unreadable.mkdir(mode=0o700)  # root-owned 0700: the sandbox uid cannot mount it
    with pytest.raises(SandboxSetupError):
        run(run_sandboxed(["true"], workdir=str(unreadable), limits=SandboxLimits()))
