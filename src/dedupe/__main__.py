from dedupe.command import run

# Guarded: a worker process started by spawn imports this module as its parent's main.
if __name__ == "__main__":
    run()
