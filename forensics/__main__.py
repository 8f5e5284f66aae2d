from forensics.cli import app

# guarded: worker processes ("spawn") import the main module again, and must not run the CLI
if __name__ == "__main__":
    app(prog_name="forensics")
