"""lsr.markdown: the one markdown-table writer."""

from lsr.markdown import markdown_table


def test_markdown_table_lines_and_empty_cells():
    assert markdown_table(["a", "b"], [[1, None], ["x", 0.5]]) == ["| a | b |", "|---|---|", "| 1 |  |", "| x | 0.5 |"]
    assert markdown_table(["a"], []) == ["| a |", "|---|"]
