"""HJ 212-2017 upward reporting: the station's data to national and provincial platforms.

frames.py   readings and period rows to upload frames (pure)
cursors.py  each target's durable place in the uplink feed (agent.outbox.feed)
link.py     one TCP connection: frames out, 9014 matched by QN, requests in
answers.py  answers to the platform's requests (time, interval, history pulls, refusals)
target.py   one target's task: choose, deliver, move the cursor
service.py  all targets, the feed's housekeeping, what they show
"""
