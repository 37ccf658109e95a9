from django.urls import path

from gamify.wallet.api import views

urlpatterns = [
    path("agents/<str:external_id>/wallet", views.WalletApi.as_view(), name="wallet"),
    path(
        "agents/<str:external_id>/wallet/grants",
        views.WalletGrantApi.as_view(),
        name="wallet-grant-create",
    ),
    path("rewards", views.RewardListApi.as_view(), name="reward-list"),
    path("rewards/<int:reward_id>", views.RewardDetailApi.as_view(), name="reward-detail"),
    path("redemptions", views.RedemptionListApi.as_view(), name="redemption-list"),
    path(
        "redemptions/<int:redemption_id>",
        views.RedemptionDetailApi.as_view(),
        name="redemption-detail",
    ),
    path(
        "redemptions/<int:redemption_id>/approve",
        views.RedemptionApproveApi.as_view(),
        name="redemption-approve",
    ),
    path(
        "redemptions/<int:redemption_id>/reject",
        views.RedemptionRejectApi.as_view(),
        name="redemption-reject",
    ),
    path(
        "redemptions/<int:redemption_id>/fulfill",
        views.RedemptionFulfillApi.as_view(),
        name="redemption-fulfill",
    ),
    path(
        "redemptions/<int:redemption_id>/fulfil",
        views.RedemptionFulfilApi.as_view(),
        name="redemption-fulfil",
    ),
]
