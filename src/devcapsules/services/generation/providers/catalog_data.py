"""The offline catalog: classic exercises with working solutions, in Python and JavaScript.

Each entry is data only. `problem` uses `{fn}` for the function name, which differs by
language convention (snake_case / camelCase). `keywords` are strong matches (one is
required), `related` only break ties. Starter code is derived from `params` (a stub
returning nothing), so it compiles and fails every test; no test expects null for that
reason. Every solution is run against its tests by tests/generation/test_catalog.py.
"""

from __future__ import annotations

EXERCISES: list[dict] = [
    {
        "key": "reverse-string",
        "keywords": ["reverse", "reversing", "backwards"],
        "related": ["string", "text", "characters"],
        "title": "Reverse a String",
        "difficulty": "easy",
        "params": ["s"],
        "description": "Return the characters of a string in reverse order.",
        "problem": "Write a function `{fn}(s)` that returns the string `s` reversed.\n\n"
        'Example: `{fn}("hello")` returns `"olleh"`. An empty string stays empty.',
        "tests": [
            (["hello"], "olleh", "reverses a word", False),
            ([""], "", "edge: empty string", False),
            (["a"], "a", "edge: single character", False),
            (["Hello, World!"], "!dlroW ,olleH", "keeps punctuation and spaces", False),
            (["racecar"], "racecar", "palindrome stays the same", True),
        ],
        "hints": [
            "Strings can be walked from the last index down to 0.",
            "Collect the characters in a new sequence, then join them.",
            "Python slicing and JavaScript's split/reverse/join make this one line.",
        ],
        "tags": ["strings", "basics"],
        "python": ("reverse_string", "def reverse_string(s):\n    return s[::-1]\n"),
        "javascript": (
            "reverseString",
            "function reverseString(s) {\n  return Array.from(s).reverse().join('');\n}\n",
        ),
    },
    {
        "key": "palindrome",
        "keywords": ["palindrome"],
        "related": ["string", "reads", "same", "check"],
        "title": "Valid Palindrome",
        "difficulty": "easy",
        "params": ["s"],
        "description": "Decide whether a phrase reads the same forwards and backwards.",
        "problem": "Write `{fn}(s)` that returns true if `s` is a palindrome when you ignore "
        "case and every character that is not a letter or digit.\n\n"
        'Example: `{fn}("A man, a plan, a canal: Panama")` is true.',
        "tests": [
            (["A man, a plan, a canal: Panama"], True, "classic phrase", False),
            (["race a car"], False, "not a palindrome", False),
            ([""], True, "edge: empty string", False),
            (["a"], True, "edge: single character", False),
            (["No 'x' in Nixon"], True, "ignores case and punctuation", True),
            (["ab"], False, "two different characters", True),
        ],
        "hints": [
            "First keep only letters and digits, lower-cased.",
            "Compare the cleaned string with its reverse, or walk two indices inwards.",
        ],
        "tags": ["strings", "two-pointers"],
        "python": (
            "is_palindrome",
            "def is_palindrome(s):\n"
            "    cleaned = [c.lower() for c in s if c.isalnum()]\n"
            "    return cleaned == cleaned[::-1]\n",
        ),
        "javascript": (
            "isPalindrome",
            "function isPalindrome(s) {\n"
            "  const cleaned = s.toLowerCase().replace(/[^a-z0-9]/g, '');\n"
            "  return cleaned === cleaned.split('').reverse().join('');\n}\n",
        ),
    },
    {
        "key": "fizzbuzz",
        "keywords": ["fizzbuzz", "fizz", "buzz"],
        "related": ["multiples", "three", "five"],
        "title": "FizzBuzz",
        "difficulty": "easy",
        "params": ["n"],
        "description": "The classic counting game as a list of strings.",
        "problem": "Write `{fn}(n)` returning a list of the numbers 1..n as strings, except "
        'multiples of 3 become `"Fizz"`, multiples of 5 `"Buzz"` and multiples of both '
        '`"FizzBuzz"`.\n\nExample: `{fn}(5)` is `["1", "2", "Fizz", "4", "Buzz"]`.',
        "tests": [
            ([1], ["1"], "edge: n = 1", False),
            ([5], ["1", "2", "Fizz", "4", "Buzz"], "Fizz and Buzz", False),
            (
                [15],
                [
                    "1",
                    "2",
                    "Fizz",
                    "4",
                    "Buzz",
                    "Fizz",
                    "7",
                    "8",
                    "Fizz",
                    "Buzz",
                    "11",
                    "Fizz",
                    "13",
                    "14",
                    "FizzBuzz",
                ],
                "FizzBuzz at 15",
                False,
            ),
            ([0], [], "edge: n = 0 gives an empty list", True),
        ],
        "hints": [
            "Check divisibility by 15 before 3 and 5.",
            "The modulo operator tells you whether one number divides another.",
        ],
        "tags": ["loops", "basics"],
        "python": (
            "fizzbuzz",
            "def fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n"
            "        if i % 15 == 0:\n            out.append('FizzBuzz')\n"
            "        elif i % 3 == 0:\n            out.append('Fizz')\n"
            "        elif i % 5 == 0:\n            out.append('Buzz')\n"
            "        else:\n            out.append(str(i))\n    return out\n",
        ),
        "javascript": (
            "fizzBuzz",
            "function fizzBuzz(n) {\n  const out = [];\n  for (let i = 1; i <= n; i++) {\n"
            "    if (i % 15 === 0) out.push('FizzBuzz');\n"
            "    else if (i % 3 === 0) out.push('Fizz');\n"
            "    else if (i % 5 === 0) out.push('Buzz');\n"
            "    else out.push(String(i));\n  }\n  return out;\n}\n",
        ),
    },
    {
        "key": "two-sum",
        "keywords": ["two sum", "two-sum", "twosum", "pair", "target sum"],
        "related": ["indices", "target", "array", "sum"],
        "title": "Two Sum",
        "difficulty": "medium",
        "params": ["nums", "target"],
        "description": "Find the two positions whose values add up to a target.",
        "problem": "Write `{fn}(nums, target)` that returns the indices `[i, j]` (with "
        "`i < j`) of the two numbers in `nums` that add up to `target`. Exactly one answer "
        "exists.\n\nExample: `{fn}([2, 7, 11, 15], 9)` is `[0, 1]`.",
        "tests": [
            ([[2, 7, 11, 15], 9], [0, 1], "first two elements", False),
            ([[3, 2, 4], 6], [1, 2], "not the first element", False),
            ([[3, 3], 6], [0, 1], "edge: equal values", False),
            ([[-1, -2, -3, -4, -5], -8], [2, 4], "edge: negative numbers", True),
            ([[0, 4, 3, 0], 0], [0, 3], "edge: zeros", True),
        ],
        "hints": [
            "A double loop works, but needs O(n^2) time.",
            "Remember each value's index in a map as you go.",
            "For each number, look up target - number in the map.",
        ],
        "tags": ["arrays", "hash-map"],
        "python": (
            "two_sum",
            "def two_sum(nums, target):\n    seen = {}\n    for i, value in enumerate(nums):\n"
            "        if target - value in seen:\n            return [seen[target - value], i]\n"
            "        seen[value] = i\n    return []\n",
        ),
        "javascript": (
            "twoSum",
            "function twoSum(nums, target) {\n  const seen = new Map();\n"
            "  for (let i = 0; i < nums.length; i++) {\n"
            "    if (seen.has(target - nums[i])) return [seen.get(target - nums[i]), i];\n"
            "    seen.set(nums[i], i);\n  }\n  return [];\n}\n",
        ),
    },
    {
        "key": "fibonacci",
        "keywords": ["fibonacci", "fib"],
        "related": ["sequence", "nth", "number"],
        "title": "Fibonacci Number",
        "difficulty": "easy",
        "params": ["n"],
        "description": "Compute the n-th Fibonacci number efficiently.",
        "problem": "Write `{fn}(n)` returning the n-th Fibonacci number, where F(0) = 0, "
        "F(1) = 1 and F(n) = F(n-1) + F(n-2). It must be fast for n up to 70.\n\n"
        "Example: `{fn}(10)` is `55`.",
        "tests": [
            ([0], 0, "edge: F(0)", False),
            ([1], 1, "edge: F(1)", False),
            ([2], 1, "F(2)", False),
            ([10], 55, "F(10)", False),
            ([70], 190392490709135, "large n needs an iterative solution", True),
        ],
        "hints": [
            "The naive recursion repeats work exponentially.",
            "Keep only the last two values and iterate.",
        ],
        "tags": ["math", "dynamic-programming"],
        "python": (
            "fibonacci",
            "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
            "        a, b = b, a + b\n    return a\n",
        ),
        "javascript": (
            "fibonacci",
            "function fibonacci(n) {\n  let a = 0, b = 1;\n"
            "  for (let i = 0; i < n; i++) [a, b] = [b, a + b];\n  return a;\n}\n",
        ),
    },
    {
        "key": "factorial",
        "keywords": ["factorial"],
        "related": ["product", "math", "recursion"],
        "title": "Factorial",
        "difficulty": "easy",
        "params": ["n"],
        "description": "Multiply all positive integers up to n.",
        "problem": "Write `{fn}(n)` returning n! = 1 x 2 x ... x n for n >= 0, with 0! = 1."
        "\n\nExample: `{fn}(5)` is `120`.",
        "tests": [
            ([0], 1, "edge: 0! is 1", False),
            ([1], 1, "edge: 1!", False),
            ([5], 120, "5!", False),
            ([12], 479001600, "12!", True),
        ],
        "hints": ["Start from 1 and multiply upwards.", "0! is defined as 1."],
        "tags": ["math", "recursion"],
        "python": (
            "factorial",
            "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n"
            "        result *= i\n    return result\n",
        ),
        "javascript": (
            "factorial",
            "function factorial(n) {\n  let result = 1;\n"
            "  for (let i = 2; i <= n; i++) result *= i;\n  return result;\n}\n",
        ),
    },
    {
        "key": "anagram",
        "keywords": ["anagram"],
        "related": ["letters", "strings", "rearrange"],
        "title": "Valid Anagram",
        "difficulty": "easy",
        "params": ["a", "b"],
        "description": "Check whether two words use exactly the same letters.",
        "problem": "Write `{fn}(a, b)` that returns true when `b` is a rearrangement of the "
        "letters of `a` (same letters, same counts; case-sensitive).\n\n"
        'Example: `{fn}("listen", "silent")` is true.',
        "tests": [
            (["listen", "silent"], True, "classic anagram", False),
            (["rat", "car"], False, "different letters", False),
            (["", ""], True, "edge: two empty strings", False),
            (["a", "ab"], False, "edge: different lengths", True),
            (["aab", "abb"], False, "same letters, different counts", True),
        ],
        "hints": [
            "Different lengths can never be anagrams.",
            "Count each letter, or compare the sorted letters.",
        ],
        "tags": ["strings", "hash-map"],
        "python": ("is_anagram", "def is_anagram(a, b):\n    return sorted(a) == sorted(b)\n"),
        "javascript": (
            "isAnagram",
            "function isAnagram(a, b) {\n"
            "  return a.split('').sort().join('') === b.split('').sort().join('');\n}\n",
        ),
    },
    {
        "key": "count-vowels",
        "keywords": ["vowel"],
        "related": ["count", "string", "letters"],
        "title": "Count the Vowels",
        "difficulty": "easy",
        "params": ["s"],
        "description": "Count a, e, i, o and u in a text, in either case.",
        "problem": "Write `{fn}(s)` returning how many characters of `s` are vowels "
        '(a, e, i, o, u, upper or lower case).\n\nExample: `{fn}("hello")` is `2`.',
        "tests": [
            (["hello"], 2, "a simple word", False),
            ([""], 0, "edge: empty string", False),
            (["AEIOU"], 5, "upper-case vowels", False),
            (["rhythm"], 0, "edge: no vowels", True),
            (["Programming is fun"], 5, "a sentence", True),
        ],
        "hints": ["Lower-case the text first.", "Test each character against a set of vowels."],
        "tags": ["strings", "basics"],
        "python": (
            "count_vowels",
            "def count_vowels(s):\n    return sum(1 for c in s.lower() if c in 'aeiou')\n",
        ),
        "javascript": (
            "countVowels",
            "function countVowels(s) {\n  return (s.match(/[aeiou]/gi) || []).length;\n}\n",
        ),
    },
    {
        "key": "max-subarray",
        "keywords": ["subarray", "kadane", "maximum sum", "max sum"],
        "related": ["contiguous", "largest", "array"],
        "title": "Maximum Subarray Sum",
        "difficulty": "medium",
        "params": ["nums"],
        "description": "Find the largest sum of a contiguous, non-empty run of numbers.",
        "problem": "Write `{fn}(nums)` returning the largest sum of any non-empty contiguous "
        "subarray of `nums`.\n\nExample: `{fn}([-2, 1, -3, 4, -1, 2, 1, -5, 4])` is `6` "
        "(the run `[4, -1, 2, 1]`).",
        "tests": [
            ([[-2, 1, -3, 4, -1, 2, 1, -5, 4]], 6, "mixed signs", False),
            ([[1]], 1, "edge: single element", False),
            ([[-3, -1, -2]], -1, "edge: all negative", False),
            ([[5, 4, -1, 7, 8]], 23, "whole array", True),
            ([[0, 0]], 0, "edge: zeros", True),
        ],
        "hints": [
            "Track the best sum of a run ending at the current index.",
            "A run with a negative sum never helps what follows: start over.",
            "Kadane's algorithm does this in one pass.",
        ],
        "tags": ["arrays", "dynamic-programming"],
        "python": (
            "max_subarray_sum",
            "def max_subarray_sum(nums):\n    best = current = nums[0]\n"
            "    for value in nums[1:]:\n        current = max(value, current + value)\n"
            "        best = max(best, current)\n    return best\n",
        ),
        "javascript": (
            "maxSubarraySum",
            "function maxSubarraySum(nums) {\n  let best = nums[0], current = nums[0];\n"
            "  for (let i = 1; i < nums.length; i++) {\n"
            "    current = Math.max(nums[i], current + nums[i]);\n"
            "    best = Math.max(best, current);\n  }\n  return best;\n}\n",
        ),
    },
    {
        "key": "binary-search",
        "keywords": ["binary search", "binary"],
        "related": ["sorted", "search", "find", "index"],
        "title": "Binary Search",
        "difficulty": "easy",
        "params": ["nums", "target"],
        "description": "Find a value's index in a sorted list in logarithmic time.",
        "problem": "Write `{fn}(nums, target)` that returns the index of `target` in the "
        "ascending list `nums`, or `-1` if it is absent.\n\nExample: "
        "`{fn}([1, 3, 5, 7, 9], 7)` is `3`.",
        "tests": [
            ([[1, 3, 5, 7, 9], 7], 3, "found in the middle half", False),
            ([[1, 3, 5, 7, 9], 4], -1, "absent value", False),
            ([[], 1], -1, "edge: empty list", False),
            ([[5], 5], 0, "edge: single element", True),
            ([[2, 4, 6, 8], 8], 3, "edge: last element", True),
        ],
        "hints": [
            "Keep a low and a high bound and look at the middle.",
            "Move the bound that cannot contain the target.",
        ],
        "tags": ["arrays", "searching"],
        "python": (
            "binary_search",
            "def binary_search(nums, target):\n    lo, hi = 0, len(nums) - 1\n"
            "    while lo <= hi:\n        mid = (lo + hi) // 2\n"
            "        if nums[mid] == target:\n            return mid\n"
            "        if nums[mid] < target:\n            lo = mid + 1\n"
            "        else:\n            hi = mid - 1\n    return -1\n",
        ),
        "javascript": (
            "binarySearch",
            "function binarySearch(nums, target) {\n  let lo = 0, hi = nums.length - 1;\n"
            "  while (lo <= hi) {\n    const mid = (lo + hi) >> 1;\n"
            "    if (nums[mid] === target) return mid;\n"
            "    if (nums[mid] < target) lo = mid + 1; else hi = mid - 1;\n  }\n"
            "  return -1;\n}\n",
        ),
    },
    {
        "key": "valid-parentheses",
        "keywords": ["parenthes", "bracket", "balanced"],
        "related": ["valid", "stack", "brace"],
        "title": "Valid Parentheses",
        "difficulty": "medium",
        "params": ["s"],
        "description": "Check that brackets open and close in the right order.",
        "problem": "Write `{fn}(s)` for a string of `()[]{}` that returns true when every "
        "bracket is closed by the same kind, in the right order.\n\n"
        'Example: `{fn}("()[]{}")` is true, `{fn}("(]")` is false.',
        "tests": [
            (["()"], True, "one pair", False),
            (["()[]{}"], True, "three kinds in a row", False),
            (["(]"], False, "mismatched kinds", False),
            (["([)]"], False, "wrong order", True),
            ([""], True, "edge: empty string", True),
            (["(("], False, "edge: unclosed", True),
        ],
        "hints": [
            "The most recent unclosed bracket must close first: that is a stack.",
            "Push openers; on a closer, pop and compare.",
            "The string is valid only if the stack ends empty.",
        ],
        "tags": ["strings", "stack"],
        "python": (
            "is_valid_parentheses",
            "def is_valid_parentheses(s):\n    pairs = {')': '(', ']': '[', '}': '{'}\n"
            "    stack = []\n    for c in s:\n        if c in pairs:\n"
            "            if not stack or stack.pop() != pairs[c]:\n"
            "                return False\n        else:\n            stack.append(c)\n"
            "    return not stack\n",
        ),
        "javascript": (
            "isValidParentheses",
            "function isValidParentheses(s) {\n"
            "  const pairs = { ')': '(', ']': '[', '}': '{' };\n  const stack = [];\n"
            "  for (const c of s) {\n    if (c in pairs) {\n"
            "      if (stack.pop() !== pairs[c]) return false;\n"
            "    } else stack.push(c);\n  }\n  return stack.length === 0;\n}\n",
        ),
    },
    {
        "key": "roman-to-integer",
        "keywords": ["roman"],
        "related": ["numeral", "integer", "convert"],
        "title": "Roman Numerals to Integers",
        "difficulty": "easy",
        "params": ["s"],
        "description": "Convert a Roman numeral to its value.",
        "problem": "Write `{fn}(s)` converting a valid Roman numeral (I, V, X, L, C, D, M; a "
        "smaller symbol before a larger one subtracts) to an integer.\n\n"
        'Example: `{fn}("MCMXCIV")` is `1994`.',
        "tests": [
            (["III"], 3, "additive", False),
            (["IV"], 4, "edge: subtractive pair", False),
            (["LVIII"], 58, "mixed", False),
            (["MCMXCIV"], 1994, "several subtractive pairs", True),
            (["IX"], 9, "edge: nine", True),
        ],
        "hints": [
            "Map each symbol to its value.",
            "If a symbol is smaller than the next one, subtract it instead of adding.",
        ],
        "tags": ["strings", "math"],
        "python": (
            "roman_to_int",
            "def roman_to_int(s):\n"
            "    values = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}\n"
            "    total = 0\n    for i, c in enumerate(s):\n"
            "        if i + 1 < len(s) and values[c] < values[s[i + 1]]:\n"
            "            total -= values[c]\n        else:\n            total += values[c]\n"
            "    return total\n",
        ),
        "javascript": (
            "romanToInt",
            "function romanToInt(s) {\n"
            "  const v = { I: 1, V: 5, X: 10, L: 50, C: 100, D: 500, M: 1000 };\n"
            "  let total = 0;\n  for (let i = 0; i < s.length; i++) {\n"
            "    if (i + 1 < s.length && v[s[i]] < v[s[i + 1]]) total -= v[s[i]];\n"
            "    else total += v[s[i]];\n  }\n  return total;\n}\n",
        ),
    },
    {
        "key": "merge-sorted",
        "keywords": ["merge", "merging"],
        "related": ["sorted", "lists", "arrays", "two"],
        "title": "Merge Two Sorted Lists",
        "difficulty": "easy",
        "params": ["a", "b"],
        "description": "Combine two ascending lists into one ascending list.",
        "problem": "Write `{fn}(a, b)` that merges two ascending lists of numbers into one "
        "ascending list, in linear time.\n\nExample: `{fn}([1, 3, 5], [2, 4, 6])` is "
        "`[1, 2, 3, 4, 5, 6]`.",
        "tests": [
            ([[1, 3, 5], [2, 4, 6]], [1, 2, 3, 4, 5, 6], "interleaved", False),
            ([[], [1]], [1], "edge: first list empty", False),
            ([[], []], [], "edge: both empty", False),
            ([[1, 1], [1]], [1, 1, 1], "duplicates", True),
            ([[-5, 0], [-3, 10]], [-5, -3, 0, 10], "edge: negatives", True),
        ],
        "hints": [
            "Keep one index into each list.",
            "Append the smaller head, then whatever remains of the other list.",
        ],
        "tags": ["arrays", "two-pointers"],
        "python": (
            "merge_sorted",
            "def merge_sorted(a, b):\n    i = j = 0\n    out = []\n"
            "    while i < len(a) and j < len(b):\n"
            "        if a[i] <= b[j]:\n            out.append(a[i])\n            i += 1\n"
            "        else:\n            out.append(b[j])\n            j += 1\n"
            "    return out + a[i:] + b[j:]\n",
        ),
        "javascript": (
            "mergeSorted",
            "function mergeSorted(a, b) {\n  let i = 0, j = 0;\n  const out = [];\n"
            "  while (i < a.length && j < b.length) out.push(a[i] <= b[j] ? a[i++] : b[j++]);\n"
            "  return out.concat(a.slice(i), b.slice(j));\n}\n",
        ),
    },
    {
        "key": "gcd",
        "keywords": ["gcd", "greatest common divisor", "common divisor", "euclid"],
        "related": ["divisor", "math", "numbers"],
        "title": "Greatest Common Divisor",
        "difficulty": "easy",
        "params": ["a", "b"],
        "description": "Euclid's algorithm for the largest shared divisor.",
        "problem": "Write `{fn}(a, b)` returning the greatest common divisor of two "
        "non-negative integers (not both zero).\n\nExample: `{fn}(12, 18)` is `6`.",
        "tests": [
            ([12, 18], 6, "common case", False),
            ([17, 5], 1, "coprime numbers", False),
            ([0, 7], 7, "edge: zero and n", False),
            ([100, 10], 10, "one divides the other", True),
            ([48, 180], 12, "larger numbers", True),
        ],
        "hints": [
            "gcd(a, b) = gcd(b, a mod b).",
            "Stop when the second number reaches zero.",
        ],
        "tags": ["math"],
        "python": (
            "gcd",
            "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
        ),
        "javascript": (
            "gcd",
            "function gcd(a, b) {\n  while (b) [a, b] = [b, a % b];\n  return a;\n}\n",
        ),
    },
]
