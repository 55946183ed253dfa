async def test_health(http):
    response = await http.get("/health")
    assert response.json() == {"status": "ok"}
