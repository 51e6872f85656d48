"""Start a command under a memory limit: python -m minigpt.grading.limits BYTES COMMAND...

Setting the limit here, in a fresh process that then becomes the command, is safe while the
grader runs several students in threads (subprocess's preexec_fn is not). The limit is
inherited by everything the command starts, the notebook's kernel included.
"""

import os
import resource
import sys


def main() -> None:
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execvp(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
