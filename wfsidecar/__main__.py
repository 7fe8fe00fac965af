from wfsidecar.cli import main

main()
