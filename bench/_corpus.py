"""A corpus of small Python function problems, each a program: a solution plus asserts,
the shape code-evaluation suites grade (one problem = one independent program). Made
from templates with varied constants, so it is deterministic and as large as asked.

Every third problem is HumanEval-style, its signature typed with `typing` (`from typing
import List, Optional, Tuple`): a common pattern in code-generation suites, and what
decides whether the batch harness preloads `typing` (each child that imports it on its
own pays ~4 ms; docs/execution.md, "Batches"). One third is a chosen share, not a count
of any suite."""

from __future__ import annotations

TEMPLATES = [
    (
        "def add_k(x):\n    return x + {k}\n",
        "assert add_k(1) == {k} + 1\nassert add_k(-{k}) == 0\n",
    ),
    (
        "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
        "    return a\n",
        "assert fib(10) == 55\nassert fib({k} % 20 + 1) > 0\n",
    ),
    (
        "def is_prime(n):\n    if n < 2:\n        return False\n"
        "    return all(n % d for d in range(2, int(n ** 0.5) + 1))\n",
        "assert is_prime(97)\nassert not is_prime({k} * 2 + 2)\n",
    ),
    (
        "def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n",
        "assert reverse_words('a b c{k}') == 'c{k} b a'\n",
    ),
    (
        "import math\n\ndef lcm(a, b):\n    return a * b // math.gcd(a, b)\n",
        "assert lcm(4, 6) == 12\nassert lcm({k} + 1, 1) == {k} + 1\n",
    ),
    (
        "def is_palindrome(s):\n    t = [c.lower() for c in s if c.isalnum()]\n"
        "    return t == t[::-1]\n",
        "assert is_palindrome('A man, a plan, a canal: Panama')\n"
        "assert not is_palindrome('ab{k}')\n",
    ),
    (
        "def running_max(xs):\n    out, best = [], None\n    for x in xs:\n"
        "        best = x if best is None else max(best, x)\n        out.append(best)\n"
        "    return out\n",
        "assert running_max([1, 3, 2, {k}]) == [1, 3, 3, max(3, {k})]\n",
    ),
    (
        "from collections import Counter\n\ndef most_common(xs):\n"
        "    return Counter(xs).most_common(1)[0][0]\n",
        "assert most_common([{k}, {k}, 1]) == {k}\n",
    ),
    (
        "def flatten(xs):\n    out = []\n    for x in xs:\n"
        "        out.extend(flatten(x) if isinstance(x, list) else [x])\n    return out\n",
        "assert flatten([1, [2, [{k}]]]) == [1, 2, {k}]\n",
    ),
    (
        "def digit_sum(n):\n    return sum(int(d) for d in str(abs(n)))\n",
        "assert digit_sum({k}) == sum(map(int, str({k})))\nassert digit_sum(-12) == 3\n",
    ),
    (
        "def wrong_sort(xs):\n    return xs\n",  # a wrong solution: its assert fails
        "assert wrong_sort([{k}, 0]) == [0, {k}]\n",
    ),
]


TYPED_TEMPLATES = [
    (
        "from typing import List\n\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    ordered = sorted(numbers)\n"
        "    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))\n",
        "assert has_close_elements([1.0, 2.8, 3.0, {k}.5], 0.3)\n"
        "assert not has_close_elements([1.0, 2.0, {k}.5], 0.3)\n",
    ),
    (
        "from typing import List\n\n\n"
        "def below_zero(operations: List[int]) -> bool:\n"
        "    balance = 0\n    for op in operations:\n        balance += op\n"
        "        if balance < 0:\n            return True\n    return False\n",
        "assert below_zero([1, 2, -{k}])\nassert not below_zero([{k}, -{k}, 1])\n",
    ),
    (
        "from typing import List, Tuple\n\n\n"
        "def sum_product(numbers: List[int]) -> Tuple[int, int]:\n"
        "    total, product = 0, 1\n    for n in numbers:\n"
        "        total += n\n        product *= n\n    return total, product\n",
        "assert sum_product([]) == (0, 1)\nassert sum_product([2, {k}]) == (2 + {k}, 2 * {k})\n",
    ),
    (
        "from typing import List, Optional\n\n\n"
        "def longest(strings: List[str]) -> Optional[str]:\n"
        "    if not strings:\n        return None\n"
        "    return max(strings, key=len)\n",
        "assert longest([]) is None\nassert longest(['a', 'b' * {k}, 'cc']) == 'b' * {k}\n",
    ),
    (
        "from typing import List\n\n\n"
        "def filter_by_prefix(strings: List[str], prefix: str) -> List[str]:\n"
        "    return [s for s in strings if s.startswith(prefix)]\n",
        "assert filter_by_prefix(['abc{k}', 'bcd', 'ax'], 'a') == ['abc{k}', 'ax']\n",
    ),
    (
        "from typing import List\n\n\n"  # a wrong solution: its assert fails
        "def wrong_intersperse(numbers: List[int], delimeter: int) -> List[int]:\n"
        "    return [x for n in numbers for x in (n, delimeter)]\n",
        "assert wrong_intersperse([1, {k}], 0) == [1, 0, {k}]\n",
    ),
]
TYPED_EVERY = 3  # every third problem is a typed one


def template(index: int) -> tuple[str, str]:
    if index % TYPED_EVERY == TYPED_EVERY - 1:
        return TYPED_TEMPLATES[(index // TYPED_EVERY) % len(TYPED_TEMPLATES)]
    untyped = index - index // TYPED_EVERY  # the untyped problems' own count
    return TEMPLATES[untyped % len(TEMPLATES)]


def corpus(size: int = 110) -> list[str]:
    """`size` programs; one template in eleven untyped and one in six typed is wrong, so a
    grader must tell them apart."""
    programs = []
    for index in range(size):
        solution, asserts = template(index)
        k = index + 3
        programs.append(solution.format(k=k) + "\n" + asserts.format(k=k))
    return programs


def expected_ok(size: int = 110) -> list[bool]:
    return ["def wrong_" not in template(i)[0] for i in range(size)]
