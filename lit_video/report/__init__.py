"""Reports read from results (``lit_video.results``) and the model registry: the HTML page of a sweep (``html``), the
lecture's claims judged on a sweep's rows (``lecture_claims``), every published figure beside lit-video's count
(``fidelity``) and two leaderboards side by side (``compare``)."""
