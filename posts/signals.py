"""Signals other parts of the product hook into (notifications). Sent after the change commits.

approval_requested(post, by): a post was submitted for approval (or sent back to it by an edit).
approval_decided(post, by, approved, comment): an approver approved it (approved=True) or sent it back.
"""

from django.dispatch import Signal

approval_requested = Signal()
approval_decided = Signal()
