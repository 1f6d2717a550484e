"""Results: the schema of every results field (``schema``), the layout of a results folder and its rows
(``folder``), leaderboards combined from the rows (``leaderboard``) and their charts (``plots``).

Below both the sweep, which writes results, and the report, which reads them; neither imports the other.
"""
