from booktools.book import main

raise SystemExit(main())
