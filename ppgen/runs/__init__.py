"""Run folders and what goes into them: creating, resuming and reloading folders safely
(:mod:`.folder`), the scores a model and a data set call for (:mod:`.scoring`), tables and
figures (:mod:`.tables`, :mod:`.figures`), and the ``ppgen analyze`` writers (:mod:`.analyze`,
:mod:`.analyze_chains`). This package sits above evaluation and analysis and below the CLI."""
