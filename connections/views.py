from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from connections.selectors import connection_list


@login_required
def connection_index(request):
    return render(request, "connections/list.html", {"connections": connection_list(user=request.user, club=request.club)})
