from django.urls import path

from mindpost.accounts import api

urlpatterns = [
    path("token/", api.TokenObtainView.as_view(), name="token_obtain"),
    path("token/refresh/", api.TokenRefresh.as_view(), name="token_refresh"),
    path("token/verify/", api.TokenVerify.as_view(), name="token_verify"),
    path("auth/register/", api.RegisterView.as_view(), name="register"),
    path("auth/verify-email/", api.VerifyEmailView.as_view(), name="verify_email"),
    path("auth/verify-email/resend/", api.ResendVerificationView.as_view(), name="verify_email_resend"),
    path("auth/password-reset/", api.PasswordResetView.as_view(), name="password_reset"),
    path("auth/password-reset/confirm/", api.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("me/", api.MeView.as_view(), name="me"),
    path("me/export/", api.ExportView.as_view(), name="me_export"),
    path("account/delete/", api.AccountDeleteView.as_view(), name="account_delete"),
]
