#!/bin/sh
# A root shell on a second virtio-serial port, so the host side of the test
# can look inside the guest (/proc, /etc/shadow, sysfs) and act there (kill a
# process, start a write). Test guests only. The port reads as end-of-file
# while no host is connected: the shell then exits and is started again.
port=/dev/virtio-ports/org.qga-privsep.test-shell
while [ ! -e $port ]; do sleep 0.1; done
cd /
while :; do
  # One open for both directions: a virtio port allows a single opener.
  sh <>$port >&0 2>&0
  sleep 0.2
done
