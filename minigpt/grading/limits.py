"""Start a command under a student's limits: python -m minigpt.grading.limits POLICY COMMAND...

Setting limits here, in a fresh process that then becomes the command, is safe while the grader
runs several students in threads (subprocess's preexec_fn is not). Everything the command
starts inherits them: the sandbox, the runner, the student's processes.
"""

import os
import resource
import sys

from minigpt.grading.sandbox import Policy


def main() -> None:
    policy = Policy.from_json(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (policy.memory_bytes, policy.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (policy.file_bytes, policy.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if policy.cgroup:
        with open(os.path.join(policy.cgroup, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    os.execvp(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
