from glucomag.cli import main

main()
