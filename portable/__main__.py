from portable._cli import main

main()
